from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "mailherd.tenancy"
    label = "tenancy"
