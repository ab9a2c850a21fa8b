from django.http import Http404

from mailherd.tenancy.models import Invitation, Membership, Organization, Role


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
