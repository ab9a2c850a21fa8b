from django.db import models

from mailherd.core.crypto import EncryptedTextField


class MailServer(models.Model):
    """A Mailcow server that Mailherd provisions into. The API key is encrypted at rest."""

    name = models.CharField(max_length=100, unique=True)
    api_url = models.URLField(
        help_text="Base URL of the Mailcow web app, e.g. https://mail.example.net"
    )
    api_key = EncryptedTextField(help_text="A read-write Mailcow API key")
    hostname = models.CharField(
        max_length=255, blank=True, help_text="Public host name of the mail server (MX target)"
    )
    imap_host = models.CharField(max_length=255, blank=True)
    imap_port = models.PositiveIntegerField(default=993)
    pop3_host = models.CharField(max_length=255, blank=True)
    pop3_port = models.PositiveIntegerField(default=995)
    smtp_host = models.CharField(max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField(default=587)
    webmail_url = models.URLField(blank=True)
    capacity_mailboxes = models.PositiveIntegerField(default=5000)
    is_active = models.BooleanField(default=True)
    version = models.CharField(max_length=100, blank=True)
    last_health_at = models.DateTimeField(null=True, blank=True)
    last_health_ok = models.BooleanField(null=True)
    last_health_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def public_host(self) -> str:
        from urllib.parse import urlparse

        return self.hostname or urlparse(self.api_url).hostname or ""
