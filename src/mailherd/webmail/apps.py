from django.apps import AppConfig


class WebmailConfig(AppConfig):
    name = "mailherd.webmail"
    label = "webmail"
    verbose_name = "Webmail and sign-in"

    def ready(self):
        from mailherd.webmail import app_passwords, autoreply

        app_passwords.register_outbox_handlers()
        autoreply.register_outbox_handlers()
