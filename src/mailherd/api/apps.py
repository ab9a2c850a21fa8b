from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "mailherd.api"
    label = "api"
