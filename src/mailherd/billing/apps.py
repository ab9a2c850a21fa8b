from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "mailherd.billing"
    label = "billing"
