"""Webmail single sign-on: Mailherd as the OpenID provider of each Mailcow server.

Every authorization code and token issued to a webmail client belongs to one
MailboxGrant: one person, one mailbox, chosen before the flow started. The
grant is checked on every code exchange, refresh, userinfo and introspection
(webmail.selectors.grant_refusal), so a suspension or an unassignment ends
the session at the next refresh.
"""

from django.conf import settings
from django.db import models
from oauth2_provider.settings import oauth2_settings

from mailherd.core.crypto import EncryptedTextField


class SsoClient(models.Model):
    """The OAuth client that one Mailcow server's `generic-oidc` identity provider uses."""

    mail_server = models.OneToOneField(
        "mailcow.MailServer", on_delete=models.CASCADE, related_name="sso_client"
    )
    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.PROTECT, related_name="sso_client"
    )
    webmail_url = models.URLField(help_text="Mailcow's web address, the registered redirect URL")
    # DOT keeps only a hash; Mailcow needs the secret itself when the provider is written again.
    client_secret = EncryptedTextField()
    configured_at = models.DateTimeField(null=True, blank=True)
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Webmail sign-in for {self.mail_server}"


class MailboxGrant(models.Model):
    """One person opened one mailbox through one client; its code and tokens point here."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    mailbox = models.ForeignKey("hosting.Mailbox", on_delete=models.CASCADE, related_name="grants")
    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # SHA-256 of the authorization code (the code itself is never stored).
    code_checksum = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # DOT's refresh-token family: every rotated refresh token of this grant shares it.
    token_family = models.UUIDField(unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} → {self.mailbox}"


class BoundAccessToken(models.Model):
    """Which grant an access token was issued for."""

    access_token = models.OneToOneField(
        oauth2_settings.ACCESS_TOKEN_MODEL, on_delete=models.CASCADE, related_name="mailbox_binding"
    )
    grant = models.ForeignKey(MailboxGrant, on_delete=models.CASCADE, related_name="access_tokens")

    def __str__(self) -> str:
        return f"token {self.access_token_id} of {self.grant}"


class RefreshReplay(models.Model):
    """A refresh's answer, replayed to parallel refreshes with the same (now rotated) token.

    Mailcow refreshes on every page load, several at once. Tokens are stored as
    checksums only, so instead of DOT's grace period (which needs plaintext) the
    first answer is kept encrypted for a short time and given to the others.
    """

    refresh_checksum = models.CharField(max_length=64, unique=True)
    grant = models.ForeignKey(MailboxGrant, null=True, on_delete=models.CASCADE, related_name="+")
    response = EncryptedTextField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"refresh replay until {self.expires_at:%H:%M:%S}"


class OrganizationWebmail(models.Model):
    """An organization's mail sign-in settings."""

    class SignInMode(models.TextChoices):
        PASSWORD = "password", "Mailbox passwords"
        SSO = "sso", "Single sign-on from the portal (mail apps use app passwords)"

    organization = models.OneToOneField(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="webmail_settings"
    )
    sign_in_mode = models.CharField(
        max_length=20, choices=SignInMode.choices, default=SignInMode.PASSWORD
    )
    require_two_factor = models.BooleanField(
        default=False, help_text="Opening webmail needs a portal account with two-factor sign-in"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Mail sign-in of {self.organization}"


class AppPassword(models.Model):
    """A password for one mail app on one mailbox (Mailcow's app-passwd), shown once.

    The password reaches Mailcow through the outbox (kept encrypted in
    `pending_secret` until applied, then wiped); afterwards Mailherd keeps only
    its name, protocols and Mailcow's id.
    """

    PROTOCOLS = {
        "imap": "IMAP",
        "smtp": "SMTP",
        "pop3": "POP3",
        "dav": "CalDAV/CardDAV",
        "eas": "ActiveSync",
        "sieve": "Sieve",
    }

    mailbox = models.ForeignKey(
        "hosting.Mailbox", on_delete=models.CASCADE, related_name="app_passwords"
    )
    name = models.CharField(max_length=100)
    protocols = models.JSONField(default=list)
    mailcow_id = models.PositiveIntegerField(null=True, blank=True)
    # The password, encrypted, until the outbox has given it to Mailcow; then wiped.
    pending_secret = EncryptedTextField(blank=True, default="")
    sync_status = models.CharField(max_length=20, default="pending")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} on {self.mailbox}"

    @property
    def mailcow_name(self) -> str:
        """Unique on the server, so a retried add is recognised."""
        return f"{self.name} (#{self.pk})"


class AutoReply(models.Model):
    """A mailbox's out-of-office reply: a Sieve vacation script of its own on Mailcow.

    Written with `add/filter` as a *postfilter* described AUTOREPLY_DESCRIPTION;
    the rules app's filters have their own description, so neither replaces the other.
    """

    mailbox = models.OneToOneField(
        "hosting.Mailbox", on_delete=models.CASCADE, related_name="autoreply"
    )
    enabled = models.BooleanField(default=False)
    subject = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Out-of-office of {self.mailbox}"


class Forwarding(models.Model):
    """A mailbox's forwarding: `redirect` (with `:copy` when a copy stays) in the same Sieve script as
    the out-of-office reply (Mailcow keeps one active postfilter per mailbox)."""

    mailbox = models.OneToOneField(
        "hosting.Mailbox", on_delete=models.CASCADE, related_name="forwarding"
    )
    targets = models.JSONField(default=list, blank=True)
    keep_copy = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Forwarding of {self.mailbox}"

    @property
    def enabled(self) -> bool:
        return bool(self.targets)
