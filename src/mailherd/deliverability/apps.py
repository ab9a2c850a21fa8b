from django.apps import AppConfig


class DeliverabilityConfig(AppConfig):
    name = "mailherd.deliverability"
    verbose_name = "Deliverability"

    def ready(self) -> None:
        from mailherd.deliverability.mailbox import ReportMailboxHandler
        from mailherd.imapwatch.registry import register

        register(ReportMailboxHandler())
