from django.apps import AppConfig


class MailcowConfig(AppConfig):
    name = "mailherd.mailcow"
    label = "mailcow"
