from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "mailherd.portal"
    label = "portal"
