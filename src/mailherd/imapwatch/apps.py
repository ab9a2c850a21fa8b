from django.apps import AppConfig


class ImapWatchConfig(AppConfig):
    name = "mailherd.imapwatch"
    label = "imapwatch"
    verbose_name = "IMAP watcher"

    def ready(self) -> None:
        from mailherd.hosting.provisioning import register_outbox_handler
        from mailherd.imapwatch import credentials

        register_outbox_handler(credentials.OP_CREATE, credentials.apply_create)
        register_outbox_handler(credentials.OP_DELETE, credentials.apply_delete)
