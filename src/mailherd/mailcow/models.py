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
    default_relay = models.ForeignKey(
        "mailcow.Relay",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="default_for_servers",
        help_text="Outbound mail of this server's domains leaves through this smarthost",
    )
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


class Relay(models.Model):
    """A smarthost that outbound mail can leave through, with the DNS its provider needs.

    Defined by the operator; used as a server's default or, where the plan
    allows, by one domain. Mailcow knows it as a relayhost (one per server,
    see RelayOnServer). The password is encrypted and never shown back.
    """

    class DkimType(models.TextChoices):
        NONE = "", "No DKIM record of the provider"
        TXT = "TXT", "TXT (a key the customer publishes)"
        CNAME = "CNAME", "CNAME (points at the provider's key)"

    name = models.SlugField(max_length=50, unique=True, help_text="e.g. resend")
    host = models.CharField(max_length=255, help_text="SMTP host, e.g. smtp.resend.com")
    port = models.PositiveIntegerField(default=587)
    username = models.CharField(max_length=255, blank=True)
    password = EncryptedTextField(blank=True)
    spf_include = models.CharField(
        max_length=255,
        blank=True,
        help_text="SPF include of the provider, e.g. amazonses.com",
    )
    envelope_subdomain = models.CharField(
        max_length=63,
        blank=True,
        help_text="Envelope-sender (bounce) subdomain, e.g. send: gets its own MX and SPF; "
        "empty: the include goes into the domain's own SPF",
    )
    envelope_mx = models.CharField(
        max_length=255,
        blank=True,
        help_text="MX host of the envelope-sender subdomain, e.g. feedback-smtp.us-east-1.amazonses.com",
    )
    dkim_selector = models.CharField(max_length=63, blank=True, help_text="e.g. resend")
    dkim_type = models.CharField(max_length=5, choices=DkimType.choices, blank=True, default="")
    dkim_value = models.TextField(
        blank=True,
        help_text="The TXT value or CNAME target; {domain} is replaced by the customer's domain",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def hostname_port(self) -> str:
        """Mailcow's relayhost notation: ``[host]:port`` (no MX lookup)."""
        return f"[{self.host}]:{self.port}"


class RelayOnServer(models.Model):
    """Where a relay exists on a Mailcow server (Mailcow's relayhost id), and since when it matches."""

    relay = models.ForeignKey(Relay, on_delete=models.CASCADE, related_name="server_links")
    mail_server = models.ForeignKey(
        MailServer, on_delete=models.CASCADE, related_name="relay_links"
    )
    relayhost_id = models.PositiveIntegerField()
    synced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["relay", "mail_server"], name="relay_once_per_server")
        ]

    def __str__(self) -> str:
        return f"{self.relay} on {self.mail_server} (relayhost {self.relayhost_id})"
