from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "mailherd.plans"
    label = "plans"
