from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "mailherd.notifications"
    label = "notifications"
