from django.apps import AppConfig


class DeliverabilityConfig(AppConfig):
    name = "mailherd.deliverability"
    verbose_name = "Deliverability"
