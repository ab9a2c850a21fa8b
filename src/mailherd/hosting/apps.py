from django.apps import AppConfig


class HostingConfig(AppConfig):
    name = "mailherd.hosting"
    label = "hosting"

    def ready(self) -> None:
        from mailherd.hosting.services import policies

        policies.register_outbox_handlers()
