from django.apps import AppConfig


class WebmailConfig(AppConfig):
    name = "mailherd.webmail"
    label = "webmail"
    verbose_name = "Webmail and sign-in"
