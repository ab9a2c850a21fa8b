from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "mailherd.core"
    label = "core"
