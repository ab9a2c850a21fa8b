"""DMARC aggregate (RFC 7489) and SMTP TLS (RFC 8460) reports, and what they tell per sending source.

`Report` keeps one received report (its identity makes a second copy a duplicate), `ReportRecord`
its rows, and `DailySource` the per-day, per-source sums that the pages and the API read (so a
year of reports from hundreds of sources is a few thousand rows to sum, not a parse).
See docs/deliverability.md.
"""

from django.db import models
from django.utils import timezone


class Report(models.Model):
    class Kind(models.TextChoices):
        AGGREGATE = "aggregate", "DMARC aggregate"
        TLS = "tls", "SMTP TLS"

    class Source(models.TextChoices):
        API = "api", "API upload"
        PORTAL = "portal", "Portal upload"
        IMAP = "imap", "Report mailbox"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="deliverability_reports"
    )
    domain = models.ForeignKey(
        "hosting.Domain", on_delete=models.CASCADE, related_name="deliverability_reports"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reporter = models.CharField(max_length=255, help_text="The organization that sent the report")
    reporter_email = models.CharField(max_length=320, blank=True)
    report_id = models.CharField(max_length=255)
    begin = models.DateTimeField()
    end = models.DateTimeField()
    policy_published = models.JSONField(default=dict, blank=True)
    # Aggregate: messages and those that failed DMARC. TLS: sessions and failed sessions.
    messages = models.PositiveBigIntegerField(default=0)
    failed = models.PositiveBigIntegerField(default=0)
    # TLS: per policy {policy_domain, policy_type, successful, failed, failure_details}.
    details = models.JSONField(default=list, blank=True)
    received_via = models.CharField(max_length=10, choices=Source.choices)
    size_bytes = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-begin", "-id"]
        constraints = [
            # The same report twice counts once (RFC 7489 §7.2.1.1: org_name + report_id is unique).
            models.UniqueConstraint(
                fields=["domain", "kind", "reporter", "report_id"], name="report_once_per_domain"
            )
        ]
        indexes = [models.Index(fields=["domain", "kind", "-begin"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} report {self.report_id} from {self.reporter}"


class ReportRecord(models.Model):
    """One row of an aggregate report: messages from one IP with one set of results."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="records")
    day = models.DateField()
    source_ip = models.GenericIPAddressField()
    messages = models.PositiveBigIntegerField()
    spf_aligned = models.BooleanField()
    dkim_aligned = models.BooleanField()
    dmarc_pass = models.BooleanField()
    disposition = models.CharField(max_length=20, blank=True)
    header_from = models.CharField(max_length=253, blank=True)
    envelope_from = models.CharField(max_length=253, blank=True)
    dkim_domains = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"{self.source_ip}: {self.messages}"


class DailySource(models.Model):
    """Sums per domain, day and sending IP over every aggregate report: what the charts read."""

    domain = models.ForeignKey(
        "hosting.Domain", on_delete=models.CASCADE, related_name="dmarc_daily_sources"
    )
    day = models.DateField()
    source_ip = models.GenericIPAddressField()
    messages = models.PositiveBigIntegerField(default=0)
    spf_aligned = models.PositiveBigIntegerField(default=0)
    dkim_aligned = models.PositiveBigIntegerField(default=0)
    dmarc_pass = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["domain", "day", "source_ip"], name="daily_source_once")
        ]
        indexes = [models.Index(fields=["domain", "day"])]

    def __str__(self) -> str:
        return f"{self.domain_id} {self.day} {self.source_ip}: {self.messages}"


class SourceName(models.Model):
    """What the configured resolver says an IP is called, and who it belongs to (cache)."""

    ip = models.GenericIPAddressField(unique=True)
    name = models.CharField(max_length=253, blank=True, help_text="Reverse DNS (PTR); empty: none")
    base_domain = models.CharField(max_length=253, blank=True)
    organization_name = models.CharField(
        max_length=255, blank=True, help_text="Who sends from it, where the reverse name tells"
    )
    looked_up_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.ip} ({self.name or 'no reverse name'})"


class ReportRefusal(models.Model):
    """A file that was not taken, and why: shown to the customer beside the reports."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="deliverability_refusals"
    )
    domain = models.ForeignKey(
        "hosting.Domain",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliverability_refusals",
    )
    filename = models.CharField(max_length=255, blank=True)
    code = models.CharField(max_length=40)
    reason = models.TextField()
    received_via = models.CharField(max_length=10, choices=Report.Source.choices)
    size_bytes = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["organization", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.filename or 'report'} refused: {self.code}"


class Alert(models.Model):
    """Something in the reports the customer should look at: told by email, in the portal, by webhook."""

    class Kind(models.TextChoices):
        NEW_SOURCE = "new_source", "New sending source"
        FAILURE_RATE = "failure_rate", "Sudden DMARC failures"
        TLS_FAILURE = "tls_failure", "TLS failures"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="deliverability_alerts"
    )
    domain = models.ForeignKey(
        "hosting.Domain", on_delete=models.CASCADE, related_name="deliverability_alerts"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # What makes two alerts the same one (e.g. "new_source:192.0.2.1"): raised once.
    key = models.CharField(max_length=200)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "key"], name="deliverability_alert_once")
        ]
        indexes = [models.Index(fields=["organization", "dismissed_at", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message[:60]}"


class Blocklist(models.Model):
    """A DNS blocklist (DNSBL) the operator checks its servers' IPs against."""

    zone = models.CharField(max_length=253, unique=True, help_text="e.g. zen.spamhaus.org")
    name = models.CharField(max_length=100, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["zone"]

    def __str__(self) -> str:
        return self.name or self.zone


class BlocklistResult(models.Model):
    """The latest answer of one blocklist about one IP of one mail server."""

    class Status(models.TextChoices):
        LISTED = "listed", "Listed"
        CLEAN = "clean", "Not listed"
        UNKNOWN = "unknown", "Could not check"

    server = models.ForeignKey(
        "mailcow.MailServer", on_delete=models.CASCADE, related_name="blocklist_results"
    )
    ip = models.GenericIPAddressField()
    blocklist = models.ForeignKey(Blocklist, on_delete=models.CASCADE, related_name="results")
    status = models.CharField(max_length=10, choices=Status.choices)
    answer = models.CharField(max_length=255, blank=True, help_text="The A records returned")
    reason = models.TextField(
        blank=True, help_text="The list's TXT, or why it could not be checked"
    )
    listed_since = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["server__name", "ip", "blocklist__zone"]
        constraints = [
            models.UniqueConstraint(
                fields=["server", "ip", "blocklist"], name="blocklist_result_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.ip} on {self.blocklist}: {self.status}"
