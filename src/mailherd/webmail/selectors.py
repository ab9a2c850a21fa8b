"""Reads for webmail sign-in: who may open which mailbox, and the grant behind a token."""

from mailherd.tenancy.models import Membership


class Refusal:
    """Why a mailbox cannot be opened (codes are stable, messages are for people)."""

    SUSPENDED = (
        "organization_suspended",
        "This organization is suspended, so its webmail is closed.",
    )
    INACTIVE = ("mailbox_inactive", "This mailbox is switched off.")
    NOT_ASSIGNED = (
        "not_mailbox_user",
        "Only the person this mailbox is assigned to can open its webmail.",
    )
    NOT_SSO = (
        "sso_not_enabled",
        "This mailbox does not use single sign-on; sign in with its password.",
    )
    NO_SERVER = (
        "webmail_not_configured",
        "Webmail sign-in is not set up for this mailbox's server yet.",
    )
    TWO_FACTOR = (
        "two_factor_required",
        "Your organization requires two-factor sign-in: set it up under Account, security.",
    )
    REVOKED = ("grant_revoked", "This webmail session was ended.")


def user_has_two_factor(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def organization_webmail(organization):
    """The organization's sign-in settings (defaults when never saved)."""
    from mailherd.webmail.models import OrganizationWebmail

    found = OrganizationWebmail.objects.filter(organization=organization).first()
    return found or OrganizationWebmail(organization=organization)


def mailbox_refusal(*, user, mailbox) -> tuple[str, str] | None:
    """None if `user` may open `mailbox`'s webmail now, else (code, message).

    The one rule for the portal's button, the authorize step, the code
    exchange, every refresh, userinfo and introspection.
    """
    organization = mailbox.organization
    if organization.is_suspended:
        return Refusal.SUSPENDED
    if not user.is_active or mailbox.user_id != user.pk:
        return Refusal.NOT_ASSIGNED
    if not Membership.objects.filter(organization=organization, user=user).exists():
        return Refusal.NOT_ASSIGNED
    if not mailbox.enabled:
        return Refusal.INACTIVE
    if not mailbox.sso:
        return Refusal.NOT_SSO
    if organization_webmail(organization).require_two_factor and not user_has_two_factor(user):
        return Refusal.TWO_FACTOR
    return None


def grant_refusal(grant) -> tuple[str, str] | None:
    if grant.revoked_at is not None:
        return Refusal.REVOKED
    return mailbox_refusal(user=grant.user, mailbox=grant.mailbox)


def sso_client_for_application(application):
    from mailherd.webmail.models import SsoClient

    if application is None:
        return None
    return SsoClient.objects.select_related("mail_server").filter(application=application).first()


def is_webmail_client_id(client_id: str) -> bool:
    from mailherd.webmail.models import SsoClient

    return SsoClient.objects.filter(application__client_id=client_id).exists()


def sso_client_for_mailbox(mailbox):
    from mailherd.webmail.models import SsoClient

    server = mailbox.domain.mail_server
    if server is None:
        return None
    # Usable once its identity provider was written to Mailcow.
    return SsoClient.objects.filter(mail_server=server, configured_at__isnull=False).first()


def grant_for_access_token(access_token):
    from mailherd.webmail.models import BoundAccessToken

    binding = (
        BoundAccessToken.objects.select_related("grant__mailbox__organization", "grant__user")
        .filter(access_token=access_token)
        .first()
    )
    return binding.grant if binding else None


def grant_for_refresh_token(refresh_token):
    from mailherd.webmail.models import MailboxGrant

    if refresh_token.token_family is None:
        return None
    return (
        MailboxGrant.objects.select_related("mailbox__organization", "user")
        .filter(token_family=refresh_token.token_family)
        .first()
    )


def mailboxes_for_user(*, user, organization=None):
    """The mailboxes assigned to `user` (in one organization, or all)."""
    from mailherd.hosting.models import Mailbox

    qs = Mailbox.objects.filter(user=user, organization__memberships__user=user).select_related(
        "organization", "domain"
    )
    if organization is not None:
        qs = qs.filter(organization=organization)
    return qs.distinct()
