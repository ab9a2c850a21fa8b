from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "mailherd.rules"
    label = "rules"
