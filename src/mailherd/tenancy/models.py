from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """A person. Staff users are the operator's people; customers reach organizations through Membership."""

    username = None
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    # The part before the @ of their platform address (hosting.services.platform), chosen at sign-up;
    # blank: derived from the name.
    mail_username = models.CharField(max_length=40, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []
    objects = UserManager()

    class Meta(AbstractUser.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["mail_username"], condition=~models.Q(mail_username=""), name="mail_username_once"
            )
        ]

    def __str__(self) -> str:
        return self.email


class Organization(models.Model):
    """A customer company: the tenant that owns domains, mailboxes and a subscription."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        CLOSED = "closed", "Closed"

    class SuspensionStage(models.TextChoices):
        """How far a suspension has gone (status is SUSPENDED in every stage but NONE)."""

        NONE = "none", "Not suspended"
        LOGIN_DISABLED = "login_disabled", "Logins refused, mail still received"
        DEACTIVATED = "deactivated", "Mailboxes and domains deactivated"
        DELETED = "deleted", "Mail data deleted"

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="organizations")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    # Set with status=SUSPENDED, cleared on restore (hosting.services.suspension).
    suspension_stage = models.CharField(
        max_length=20, choices=SuspensionStage.choices, default=SuspensionStage.NONE
    )
    suspended_at = models.DateTimeField(null=True, blank=True)
    mail_server = models.ForeignKey(
        "mailcow.MailServer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="organizations",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="organizations"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_suspended(self) -> bool:
        return self.status == self.Status.SUSPENDED

    @property
    def is_deactivated(self) -> bool:
        """Mail refused: mailboxes and domains are inactive in Mailcow (stage 2 and after)."""
        return self.is_suspended and self.suspension_stage in (
            self.SuspensionStage.DEACTIVATED,
            self.SuspensionStage.DELETED,
        )


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    BILLING = "billing", "Billing"
    MEMBER = "member", "Member"
    # Sees only the mailboxes assigned to them (their own page: settings, app passwords, webmail).
    MAILBOX_USER = "mailbox_user", "Mailbox user"


class Membership(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="unique_membership")
        ]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class Invitation(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    # Only a hash of the link's token is kept; the link itself is in the email.
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.organization}"

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )
