"""DNS state kept per domain: the customer's choices, check history, regressions, provider access.

See docs/dns.md for how checks, regressions and the provider push fit together.
"""

from django.db import models
from django.utils import timezone

from mailherd.core.crypto import EncryptedTextField


class DmarcPolicyChoice(models.TextChoices):
    NONE = "none", "none (monitor only)"
    QUARANTINE = "quarantine", "quarantine (spam folder)"
    REJECT = "reject", "reject"


def _new_sts_id() -> str:
    return timezone.now().strftime("%Y%m%d%H%M%S")


class DnsSettings(models.Model):
    """The customer's DNS choices for one domain. Absent row = defaults (see selectors)."""

    class MtaSts(models.TextChoices):
        OFF = "off", "Off"
        TESTING = "testing", "Testing (report only)"
        ENFORCE = "enforce", "Enforce"

    domain = models.OneToOneField(
        "hosting.Domain", on_delete=models.CASCADE, related_name="dns_settings"
    )
    dmarc_policy = models.CharField(
        max_length=20, choices=DmarcPolicyChoice.choices, default=DmarcPolicyChoice.NONE
    )
    dmarc_pct = models.PositiveSmallIntegerField(default=100)
    dmarc_rua = models.CharField(
        max_length=320,
        blank=True,
        help_text="Mailbox for DMARC aggregate reports; empty: postmaster@<domain>",
    )
    spf_include = models.CharField(
        max_length=500,
        blank=True,
        help_text="Extra SPF includes, space separated (other services that send as you)",
    )
    mta_sts_mode = models.CharField(max_length=10, choices=MtaSts.choices, default=MtaSts.OFF)
    mta_sts_id = models.CharField(max_length=32, default=_new_sts_id)
    tls_rpt_rua = models.CharField(
        max_length=320, blank=True, help_text="Mailbox for TLS reports; empty: off"
    )
    provider_account = models.ForeignKey(
        "dns.DnsProviderAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="domains",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "DNS settings"
        verbose_name_plural = "DNS settings"

    def __str__(self) -> str:
        return f"DNS settings of {self.domain}"

    def dmarc_rua_address(self, domain) -> str:
        return self.dmarc_rua or f"postmaster@{domain.name}"


class DmarcStage(models.Model):
    """A scheduled step of DMARC tightening (none → quarantine → reject), applied when due."""

    domain = models.ForeignKey(
        "hosting.Domain", on_delete=models.CASCADE, related_name="dmarc_stages"
    )
    policy = models.CharField(max_length=20, choices=DmarcPolicyChoice.choices)
    pct = models.PositiveSmallIntegerField(default=100)
    starts_at = models.DateTimeField()
    applied_at = models.DateTimeField(null=True, blank=True)
    # Due but held back: the DMARC reports show senders that would fail (see deliverability).
    held_at = models.DateTimeField(null=True, blank=True)
    held_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "DMARC stage"
        verbose_name_plural = "DMARC stages"
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["applied_at", "starts_at"])]

    def __str__(self) -> str:
        return f"{self.domain}: p={self.policy} pct={self.pct} from {self.starts_at:%Y-%m-%d}"


class DnsCheck(models.Model):
    """One check of a domain's records: the history.

    `results` holds per record {key, type, name, expected, status, found, detail}.
    """

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Periodic"
        MANUAL = "manual", "Portal"
        API = "api", "API"

    domain = models.ForeignKey(
        "hosting.Domain", on_delete=models.CASCADE, related_name="dns_checks"
    )
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="dns_checks"
    )
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)
    checked_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    ok_count = models.PositiveSmallIntegerField(default=0)
    problem_count = models.PositiveSmallIntegerField(default=0)
    unknown_count = models.PositiveSmallIntegerField(default=0)
    results = models.JSONField(default=list)

    class Meta:
        verbose_name = "DNS check"
        verbose_name_plural = "DNS checks"
        ordering = ["-checked_at", "-id"]
        indexes = [models.Index(fields=["domain", "-checked_at"])]
        get_latest_by = "checked_at"

    def __str__(self) -> str:
        return f"{self.domain} at {self.checked_at:%Y-%m-%d %H:%M}: {self.ok_count} ok, {self.problem_count} problems"

    @property
    def healthy(self) -> bool:
        return self.problem_count == 0 and self.unknown_count == 0


class DnsRegression(models.Model):
    """A record that was right and no longer is because DNS changed (removed or altered)."""

    domain = models.ForeignKey(
        "hosting.Domain", on_delete=models.CASCADE, related_name="dns_regressions"
    )
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="dns_regressions"
    )
    check_run = models.ForeignKey(
        DnsCheck, on_delete=models.SET_NULL, null=True, related_name="regressions"
    )
    record_key = models.CharField(max_length=40)
    record_type = models.CharField(max_length=10)
    record_name = models.CharField(max_length=253)
    expected = models.TextField()
    status = models.CharField(max_length=10, help_text="missing or wrong")
    found_before = models.JSONField(default=list)
    found_now = models.JSONField(default=list)
    detail = models.TextField(blank=True)
    detected_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "DNS regression"
        verbose_name_plural = "DNS regressions"
        ordering = ["-detected_at"]
        indexes = [models.Index(fields=["organization", "resolved_at"])]
        constraints = [
            # At most one open regression per record of a domain.
            models.UniqueConstraint(
                fields=["domain", "record_key"],
                condition=models.Q(resolved_at__isnull=True),
                name="dns_regression_open_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.record_type} {self.record_name} {self.status}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class DnsProviderAccount(models.Model):
    """Credentials for a customer's DNS provider (mailherd.dns.providers). Encrypted at rest."""

    class Provider(models.TextChoices):
        POWERDNS = "powerdns", "PowerDNS (HTTP API)"
        CLOUDFLARE = "cloudflare", "Cloudflare"
        HETZNER = "hetzner", "Hetzner DNS"
        DIGITALOCEAN = "digitalocean", "DigitalOcean"
        GANDI = "gandi", "Gandi"
        OVH = "ovh", "OVH"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="dns_provider_accounts"
    )
    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=30, choices=Provider.choices)
    # JSON of the provider's options (mailherd.dns.providers.PROVIDER_FIELDS, e.g. {"auth_token": ..., "pdns_server": ...}).
    options = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "DNS provider account"
        verbose_name_plural = "DNS provider accounts"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="dns_provider_name_per_org"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_provider_display()})"


class DnsPush(models.Model):
    """One automatic set-up through a provider: the changes shown and what happened."""

    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"

    domain = models.ForeignKey(
        "hosting.Domain", on_delete=models.CASCADE, related_name="dns_pushes"
    )
    account = models.ForeignKey(
        DnsProviderAccount, null=True, on_delete=models.SET_NULL, related_name="pushes"
    )
    actor_label = models.CharField(max_length=255)
    changes = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "DNS push"
        verbose_name_plural = "DNS pushes"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"push to {self.domain}: {self.status}"
