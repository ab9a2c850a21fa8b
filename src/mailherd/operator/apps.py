from django.apps import AppConfig


class OperatorConfig(AppConfig):
    name = "mailherd.operator"
    label = "operator"
