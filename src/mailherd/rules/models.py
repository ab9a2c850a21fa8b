"""Mail rules, and the tasks and notes they make. See docs/rules.md.

A rule belongs to one mailbox or to a whole domain (then it applies to every mailbox of it).
What Mailcow can do itself (forward, file into, mark read, discard) is compiled into one Sieve
script per mailbox (`MailboxScript`); tasks, notes and webhooks are done by the IMAP watcher.
"""

from django.conf import settings
from django.db import models

from mailherd.core.crypto import EncryptedTextField


class Rule(models.Model):
    class Match(models.TextChoices):
        ALL = "all", "All conditions"
        ANY = "any", "Any condition"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # the Sieve script is on its way to the mail server
        ACTIVE = "active", "Active"
        ERROR = "error", "Error"  # the mail server refused the script (see `error`)

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="mail_rules"
    )
    mailbox = models.ForeignKey(
        "hosting.Mailbox", null=True, blank=True, on_delete=models.CASCADE, related_name="rules"
    )
    domain = models.ForeignKey(
        "hosting.Domain", null=True, blank=True, on_delete=models.CASCADE, related_name="rules"
    )
    name = models.CharField(max_length=100)
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    conditions = models.JSONField(default=list)
    actions = models.JSONField(default=list)
    priority = models.IntegerField(default=100, help_text="Lower runs first")
    stop = models.BooleanField(default=False, help_text="Stop processing further rules")
    enabled = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    # The Standard Webhooks secret (whsec_…) that signs this rule's webhook calls.
    webhook_secret = EncryptedTextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(mailbox__isnull=False, domain__isnull=True)
                    | models.Q(mailbox__isnull=True, domain__isnull=False)
                ),
                name="rules_rule_one_scope",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scope_label(self) -> str:
        return self.mailbox.address if self.mailbox_id else f"every mailbox of {self.domain.name}"

    @property
    def action_types(self) -> list[str]:
        return [a.get("type") for a in self.actions]


class MailboxScript(models.Model):
    """The Sieve script Mailherd last compiled for a mailbox, and whether the server took it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        ERROR = "error", "Error"

    mailbox = models.OneToOneField(
        "hosting.Mailbox", on_delete=models.CASCADE, related_name="rules_script"
    )
    script = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"script of {self.mailbox_id}"


class Item(models.Model):
    """What a task and a note share: the message it came from."""

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE)
    rule = models.ForeignKey(Rule, null=True, blank=True, on_delete=models.SET_NULL)
    mailbox = models.ForeignKey("hosting.Mailbox", null=True, blank=True, on_delete=models.SET_NULL)
    message_key = models.CharField(max_length=255, help_text="Message-ID, or a digest")
    folder = models.CharField(max_length=255, default="INBOX")
    uid = models.PositiveBigIntegerField(default=0)
    title = models.CharField(max_length=500)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True, help_text="Sanitised")
    sender = models.CharField(max_length=320, blank=True)
    sender_display = models.CharField(max_length=500, blank=True)
    recipients = models.JSONField(default=list)
    received_at = models.DateTimeField(null=True, blank=True)
    webmail_url = models.URLField(max_length=1000, blank=True)
    attachments_dropped = models.PositiveIntegerField(
        default=0, help_text="Attachments not kept: over the plan's size"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class Task(Item):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.CharField(max_length=200, blank=True)

    class Meta(Item.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "message_key", "rule"], name="rules_task_once"
            )
        ]
        indexes = [models.Index(fields=["organization", "status"], name="rules_task_queue")]


class Note(Item):
    class Meta(Item.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "message_key", "rule"], name="rules_note_once"
            )
        ]


class Attachment(models.Model):
    """A file a task or note kept from its message (within the plan's size)."""

    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    note = models.ForeignKey(
        Note, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=200)
    size = models.PositiveIntegerField()
    content = models.BinaryField()

    def __str__(self) -> str:
        return self.filename


class TestAccess(models.Model):
    """Someone is testing rules on a mailbox without watcher rules: let the watcher's credential
    exist for a day, so the last messages can be read."""

    mailbox = models.OneToOneField(
        "hosting.Mailbox", on_delete=models.CASCADE, related_name="rules_test_access"
    )
    requested_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"test access {self.mailbox_id}"
