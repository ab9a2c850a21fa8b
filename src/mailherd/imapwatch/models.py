"""What the IMAP watcher keeps: per watched mailbox its credential, lease and per-folder position.

See docs/imap-watcher.md. A message is handled exactly once: its folder's
(UIDVALIDITY, last UID) and a SeenMessage row (keyed by Message-ID, so a
copy in another folder or a second delivery counts as seen) are written in
the same transaction as the handlers' own writes.
"""

from django.db import models

from mailherd.core.crypto import EncryptedTextField


class WatchedMailbox(models.Model):
    class CredentialStatus(models.TextChoices):
        PENDING = "pending", "Pending"  # app password queued for Mailcow
        ACTIVE = "active", "Active"
        ERROR = "error", "Error"

    mailbox = models.OneToOneField(
        "hosting.Mailbox", on_delete=models.CASCADE, related_name="watch"
    )
    # Mailherd's own IMAP-only app password on this mailbox (never shown to anyone).
    app_password = EncryptedTextField()
    app_password_id = models.PositiveIntegerField(null=True, blank=True, help_text="Mailcow's id")
    credential_status = models.CharField(
        max_length=20, choices=CredentialStatus.choices, default=CredentialStatus.PENDING
    )
    lease_owner = models.CharField(max_length=100, blank=True, db_index=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Backoff after connection or login failures (the server is down, the password was removed).
    failures = models.PositiveIntegerField(default=0)
    retry_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_connected_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "watched mailboxes"
        indexes = [models.Index(fields=["lease_owner", "lease_expires_at"])]

    def __str__(self) -> str:
        return f"watch {self.mailbox_id}"


class FolderState(models.Model):
    """How far the watcher got in one folder; only valid for its UIDVALIDITY."""

    watched = models.ForeignKey(WatchedMailbox, on_delete=models.CASCADE, related_name="folders")
    folder = models.CharField(max_length=255)
    uidvalidity = models.PositiveBigIntegerField()
    last_uid = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["watched", "folder"], name="imapwatch_folder_once")
        ]

    def __str__(self) -> str:
        return f"{self.folder} @{self.uidvalidity}: {self.last_uid}"


class SeenMessage(models.Model):
    """A message the handlers have had (once per mailbox, whatever folder or delivery it came by)."""

    watched = models.ForeignKey(WatchedMailbox, on_delete=models.CASCADE, related_name="seen")
    message_key = models.CharField(
        max_length=255, help_text="Message-ID, or a digest of the headers"
    )
    folder = models.CharField(max_length=255)
    uid = models.PositiveBigIntegerField()
    seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["watched", "message_key"], name="imapwatch_seen_once")
        ]

    def __str__(self) -> str:
        return self.message_key


class WatchWorker(models.Model):
    """A running watcher process; live ones share the watched mailboxes evenly."""

    worker_id = models.CharField(max_length=100, unique=True)
    heartbeat_at = models.DateTimeField()
    capacity = models.PositiveIntegerField()
    holding = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.worker_id
