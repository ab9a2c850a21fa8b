from django.apps import AppConfig


class DnsConfig(AppConfig):
    name = "mailherd.dns"
    label = "dns"
    verbose_name = "DNS"
