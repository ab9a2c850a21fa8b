from django.http import Http404
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode

from mailherd.tenancy.models import Invitation, Membership, Organization, Role, User
from mailherd.tenancy.tokens import sign_in_tokens


def organization_list_for_user(*, user):
    return (
        Organization.objects.filter(memberships__user=user).select_related("plan").order_by("name")
    )


def membership_get(*, user, organization_slug: str) -> Membership:
    """Return the user's membership in the organization; 404 for everyone else (never 403)."""
    try:
        return Membership.objects.select_related("organization__plan").get(
            user=user, organization__slug=organization_slug
        )
    except Membership.DoesNotExist:
        raise Http404("No such organization")


def membership_list(*, organization):
    return organization.memberships.select_related("user").order_by("created_at")


def owner_emails(*, organization) -> list[str]:
    return list(
        organization.memberships.filter(role=Role.OWNER)
        .order_by("created_at")
        .values_list("user__email", flat=True)
    )


def invitation_list_pending(*, organization):
    from django.utils import timezone

    return organization.invitations.filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )


def can_manage_members(membership: Membership) -> bool:
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_manage_hosting(membership: Membership) -> bool:
    return membership.role in (Role.OWNER, Role.ADMIN)


def can_manage_billing(membership: Membership) -> bool:
    return membership.role in (Role.OWNER, Role.BILLING)


def invitation_for_token_hash(token_hash: str) -> Invitation | None:
    return Invitation.objects.select_related("organization").filter(token_hash=token_hash).first()


def sign_in_link_user(*, uid: str, token: str) -> User | None:
    """The customer a sign-in link is for, or None when it is wrong, used or expired.

    Never an operator: the back office asks for two factors, which a link would skip.
    """
    try:
        user = User.objects.get(
            pk=int(force_str(urlsafe_base64_decode(uid))), is_active=True, is_staff=False
        )
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        return None
    if not sign_in_tokens.check_token(user, token):
        return None
    from allauth.mfa.models import Authenticator

    # Someone who set up two-factor sign-in must not be let in with one factor.
    if Authenticator.objects.filter(user=user).exists():
        return None
    return user
