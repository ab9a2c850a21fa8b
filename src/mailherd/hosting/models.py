from django.db import models
from django.db.models import Q

from mailherd.core.crypto import EncryptedTextField


class SyncStatus(models.TextChoices):
    """Where an object stands with its Mailcow server."""

    PENDING = "pending", "Pending"  # written here, not yet applied to Mailcow
    ACTIVE = "active", "Active"  # applied
    ERROR = "error", "Error"  # a change was refused by Mailcow; see last_error


class Domain(models.Model):
    class Status(models.TextChoices):
        UNVERIFIED = "unverified", "Unverified"
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        ERROR = "error", "Error"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="domains"
    )
    name = models.CharField(max_length=253, help_text="ASCII (punycode), lower case")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UNVERIFIED)
    verification_token = models.CharField(max_length=64)
    # The branding word of the ownership record when the domain was added (blank: the current one),
    # so a brand change never invalidates a record a customer already published.
    verification_word = models.CharField(max_length=30, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    last_verification_at = models.DateTimeField(null=True, blank=True)
    last_verification_error = models.CharField(max_length=500, blank=True)
    mail_server = models.ForeignKey(
        "mailcow.MailServer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="domains",
    )
    # The customer's own outbound limit (below the plan's); null = the plan's default.
    rate_limit = models.PositiveIntegerField(null=True, blank=True)
    rate_frame = models.CharField(max_length=1, blank=True)
    relay = models.ForeignKey(
        "mailcow.Relay",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="domains",
        help_text="The domain's own smarthost (plan feature); empty: the server's default",
    )
    # An alias domain: every address of the target also receives here (Mailcow's alias-domain).
    alias_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="alias_domains"
    )
    dkim_selector = models.CharField(max_length=63, default="dkim")
    dkim_txt = models.TextField(blank=True, help_text="The DKIM TXT value from Mailcow")
    # The key Mailherd generated and installed (add/dkim_import), encrypted at rest: a key deleted
    # on the server is put back as it was, so the published record stays valid.
    dkim_private_key = EncryptedTextField(blank=True, default="")
    last_error = models.TextField(blank=True)
    # The operator's platform domain: every member of a paying organization gets an address here
    # (hosting.services.platform). At most one; set through `platform_domain_set`.
    is_platform = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_platform"], condition=Q(is_platform=True), name="one_platform_domain"
            ),
            models.UniqueConstraint(fields=["organization", "name"], name="domain_unique_per_org"),
            # Once verified, a name belongs to one organization; unverified claims block nobody.
            models.UniqueConstraint(
                fields=["name"], condition=Q(verified_at__isnull=False), name="domain_verified_once"
            ),
        ]

    def __str__(self) -> str:
        return self.unicode_name

    @property
    def unicode_name(self) -> str:
        from mailherd.hosting.validation import to_unicode

        return to_unicode(self.name)

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def is_alias_domain(self) -> bool:
        return self.alias_of_id is not None

    @property
    def _verification_word(self) -> str:
        if self.verification_word:
            return self.verification_word
        from mailherd.operator.selectors import branding_get

        return branding_get().dns_verification_word

    @property
    def verification_record_name(self) -> str:
        return f"_{self._verification_word}-verify.{self.name}"

    @property
    def verification_record_value(self) -> str:
        return f"{self._verification_word}-verify={self.verification_token}"


class Mailbox(models.Model):
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="mailboxes"
    )
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="mailboxes")
    local_part = models.CharField(max_length=64)
    address = models.CharField(max_length=320, unique=True)
    name = models.CharField(max_length=255, blank=True)
    quota_mb = models.PositiveIntegerField()
    enabled = models.BooleanField(
        default=True, help_text="The customer's switch; suspension is separate"
    )
    sync_status = models.CharField(
        max_length=20, choices=SyncStatus.choices, default=SyncStatus.PENDING
    )
    last_error = models.TextField(blank=True)
    # The password as Dovecot checks it ({BLF-CRYPT} bcrypt, or a hash given when moving in);
    # never the plaintext. Sent as is to Mailcow, so the mailbox can be re-created with it.
    password_hash = models.CharField(max_length=512, blank=True)
    rate_limit = models.PositiveIntegerField(null=True, blank=True)  # null: the plan's default
    rate_frame = models.CharField(max_length=1, blank=True)
    # The quarantine notice (Mailcow's defaults) and the spam thresholds (null: the server's).
    quarantine_notification = models.CharField(max_length=10, default="hourly")
    quarantine_category = models.CharField(max_length=12, default="reject")
    spam_low = models.FloatField(null=True, blank=True, help_text="Score from which mail goes to Junk")
    spam_high = models.FloatField(null=True, blank=True, help_text="Score from which mail is refused")
    quota_used_bytes = models.PositiveBigIntegerField(default=0)
    messages = models.PositiveIntegerField(default=0)
    usage_refreshed_at = models.DateTimeField(null=True, blank=True)
    # The member who reads this mailbox (opens its webmail, manages its own settings).
    user = models.ForeignKey(
        "tenancy.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_mailboxes",
    )
    # Signs in through Mailherd (Mailcow authsource generic-oidc): no mailbox password,
    # mail apps use app passwords.
    sso = models.BooleanField(default=False)
    # Protocols switched off for this mailbox (Mailcow's `<protocol>_access` attributes); empty: all on.
    blocked_protocols = models.JSONField(default=list, blank=True)
    # A platform address (`user` at the operator's platform domain), given by the member's paying
    # organization (`organization`): not counted against its plan, managed by the platform service.
    is_system = models.BooleanField(default=False)
    # Set when the member left or the subscription ended: removed then unless they pay again.
    remove_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "mailbox"
        verbose_name_plural = "mailboxes"
        ordering = ["address"]
        indexes = [
            models.Index(fields=["organization", "address"]),
            models.Index(fields=["remove_at"], condition=Q(remove_at__isnull=False), name="mailbox_remove_due"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(is_system=True), name="one_platform_mailbox_per_user"
            )
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def usage_percent(self) -> int:
        limit = self.quota_mb * 1024 * 1024
        return min(100, round(100 * self.quota_used_bytes / limit)) if limit else 0


class Alias(models.Model):
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="aliases"
    )
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="aliases")
    address = models.CharField(
        max_length=320, unique=True, help_text="local@domain, or @domain for a catch-all"
    )
    goto = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    sync_status = models.CharField(
        max_length=20, choices=SyncStatus.choices, default=SyncStatus.PENDING
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["address"]
        indexes = [models.Index(fields=["organization", "address"])]
        verbose_name_plural = "aliases"

    def __str__(self) -> str:
        return self.address

    @property
    def is_catch_all(self) -> bool:
        return self.address.startswith("@")


class SyncJob(models.Model):
    """An IMAP migration: Mailcow's imapsync copies an old mailbox into one of ours.

    The old password is encrypted and lives only as long as the job.
    """

    class Security(models.TextChoices):
        SSL = "ssl", "SSL/TLS"
        STARTTLS = "starttls", "STARTTLS"
        PLAIN = "plain", "None (plain text)"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="sync_jobs"
    )
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="sync_jobs")
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=993)
    security = models.CharField(max_length=10, choices=Security.choices, default=Security.SSL)
    username = models.CharField(max_length=255)
    password = EncryptedTextField()
    active = models.BooleanField(default=True)
    mailcow_id = models.PositiveIntegerField(null=True, blank=True)
    sync_status = models.CharField(
        max_length=20, choices=SyncStatus.choices, default=SyncStatus.PENDING
    )
    last_error = models.TextField(blank=True)
    # Progress as Mailcow last reported it (get/syncjobs).
    is_running = models.BooleanField(default=False)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_run_ok = models.BooleanField(null=True)
    last_run_status = models.CharField(max_length=100, blank=True)
    last_log = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "host", "username"], name="syncjob_once_per_source"
            )
        ]

    def __str__(self) -> str:
        return f"{self.username}@{self.host} → {self.mailbox}"


class DomainPolicy(models.Model):
    """One sender on a domain's allow or block list (Mailcow's `add/domain-policy`, rspamd settings)."""

    class List(models.TextChoices):
        ALLOW = "allow", "Always accept"
        BLOCK = "block", "Always refuse"

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="policies")
    list = models.CharField(max_length=5, choices=List.choices)
    sender = models.CharField(max_length=255, help_text="An address, a domain, or a pattern with *")
    mailcow_id = models.PositiveIntegerField(null=True, blank=True)
    sync_status = models.CharField(
        max_length=20, choices=SyncStatus.choices, default=SyncStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["list", "sender"]
        verbose_name = "allow/block list entry"
        verbose_name_plural = "allow/block list entries"
        constraints = [
            models.UniqueConstraint(fields=["domain", "sender"], name="domain_policy_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_list_display()}: {self.sender} ({self.domain})"


class ProvisioningOp(models.Model):
    """One change to apply to Mailcow: the outbox (see docs/outbox.md).

    Rows for the same `object_key` are applied strictly in id order.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        FAILED = "failed", "Failed (parked)"

    class Kind(models.TextChoices):
        DOMAIN_CREATE = "domain.create"
        DOMAIN_UPDATE = "domain.update"
        DOMAIN_DELETE = "domain.delete"
        MAILBOX_CREATE = "mailbox.create"
        MAILBOX_UPDATE = "mailbox.update"
        MAILBOX_DELETE = "mailbox.delete"
        ALIAS_CREATE = "alias.create"
        ALIAS_UPDATE = "alias.update"
        ALIAS_DELETE = "alias.delete"
        # Ordered with their mailbox's rows (same object key); handlers in mailherd.webmail.
        APP_PASSWORD_CREATE = "app_password.create"
        APP_PASSWORD_DELETE = "app_password.delete"
        MAILBOX_AUTOREPLY = "mailbox.autoreply"
        QUARANTINE_RELEASE = "quarantine.release"
        QUARANTINE_DELETE = "quarantine.delete"
        SYNCJOB_CREATE = "syncjob.create"
        SYNCJOB_UPDATE = "syncjob.update"
        SYNCJOB_DELETE = "syncjob.delete"
        DOMAIN_POLICY_ADD = "domain_policy.add"
        DOMAIN_POLICY_DELETE = "domain_policy.delete"

    organization = models.ForeignKey(
        "tenancy.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="provisioning_ops",
    )
    mail_server = models.ForeignKey(
        "mailcow.MailServer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="provisioning_ops",
    )
    object_key = models.CharField(max_length=400, help_text='e.g. "mailbox:alice@acme.test"')
    kind = models.CharField(max_length=30, choices=Kind.choices)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Written at each claim and required when the outcome is written: a worker whose claim
    # went stale (and was claimed again by another) cannot also complete the row.
    claim_token = models.CharField(max_length=32, blank=True, default="")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "outbox row"
        verbose_name_plural = "outbox rows"
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["object_key", "id"]),
            # The worker's "is an earlier row of this object unfinished?" probe: only unfinished
            # rows, so it stays small however many applied rows the table keeps.
            models.Index(
                fields=["object_key", "id"],
                condition=models.Q(status__in=["pending", "in_progress"]),
                name="hosting_op_unfinished_idx",
            ),
            # Claims walk the waiting rows in order and stop at a batch, however long the backlog.
            models.Index(fields=["id"], condition=models.Q(status="pending"), name="hosting_op_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_key} ({self.status})"


class DriftReport(models.Model):
    """Something the reconciler found on a server that does not match Mailherd."""

    class Kind(models.TextChoices):
        UNKNOWN_DOMAIN = "unknown_domain", "Domain on the server that Mailherd does not know"
        UNKNOWN_MAILBOX = "unknown_mailbox", "Mailbox on the server that Mailherd does not know"
        UNKNOWN_ALIAS = "unknown_alias", "Alias on the server that Mailherd does not know"
        REPAIRED = "repaired", "Drift on an object Mailherd owns, repaired"

    mail_server = models.ForeignKey(
        "mailcow.MailServer", on_delete=models.CASCADE, related_name="drift_reports"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    identifier = models.CharField(max_length=400)
    detail = models.TextField(blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["mail_server", "kind", "identifier"], name="drift_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.identifier}"


class DkimRotation(models.Model):
    """A DKIM key change without a moment unsigned or unverifiable (mailherd.hosting.dkim_rotation).

    publishing: the new key's record is shown; Mailcow still signs with the old key.
    switched: the new record resolved, so Mailcow signs with the new key; the old record stays
    published for the overlap days (mail signed before the switch is still being verified).
    done: the old record may go. cancelled: stopped before the switch.
    """

    class Status(models.TextChoices):
        PUBLISHING = "publishing", "Publish the new record"
        SWITCHED = "switched", "Signing with the new key"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    OPEN = (Status.PUBLISHING, Status.SWITCHED)

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="dkim_rotations")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PUBLISHING)
    new_selector = models.CharField(max_length=63)
    new_private_key = EncryptedTextField()
    new_txt = models.TextField()
    old_selector = models.CharField(max_length=63, blank=True)
    old_txt = models.TextField(blank=True)
    started_by = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    switched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain"],
                condition=Q(status__in=["publishing", "switched"]),
                name="one_open_dkim_rotation_per_domain",
            )
        ]

    def __str__(self) -> str:
        return f"{self.domain}: DKIM {self.old_selector or '?'} → {self.new_selector} ({self.status})"
