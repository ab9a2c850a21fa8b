from django.conf import settings
from django.db import models


class NotificationLog(models.Model):
    """Every email Mailherd sends, with its outcome."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    to = models.EmailField()
    template = models.CharField(max_length=100)
    subject = models.CharField(max_length=255)
    organization = models.ForeignKey(
        "tenancy.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
    )
    status = models.CharField(max_length=10, choices=Status.choices)
    error = models.TextField(blank=True)
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.template} to {self.to}"


class Announcement(models.Model):
    """A message from the operator shown as a banner in the portal, optionally emailed."""

    class Severity(models.TextChoices):
        INFO = "info", "Information"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    class Audience(models.TextChoices):
        EVERYONE = "everyone", "Everyone"
        PLANS = "plans", "Organizations on chosen plans"

    title = models.CharField(max_length=150)
    body = models.TextField(help_text="Markdown; links and emphasis are kept, HTML is removed.")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.INFO)
    audience = models.CharField(max_length=10, choices=Audience.choices, default=Audience.EVERYONE)
    plans = models.ManyToManyField(
        "plans.Plan", blank=True, related_name="announcements", help_text="When audience is plans"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until removed")
    dismissible = models.BooleanField(default=True)
    send_email = models.BooleanField(
        default=False, help_text="Also email the owners and admins of the audience when it starts"
    )
    emailed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return self.title


class AnnouncementDismissal(models.Model):
    announcement = models.ForeignKey(
        Announcement, on_delete=models.CASCADE, related_name="dismissals"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["announcement", "user"], name="unique_dismissal")
        ]

    def __str__(self) -> str:
        return f"{self.user} dismissed {self.announcement}"
