from django.apps import AppConfig


class HostingConfig(AppConfig):
    name = "mailherd.hosting"
    label = "hosting"
