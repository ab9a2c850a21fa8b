from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "mailherd.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
