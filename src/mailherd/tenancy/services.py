"""Writes for organizations, memberships and invitations."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from mailherd.notifications.services import email_send
from mailherd.plans.models import Plan
from mailherd.tenancy.errors import (
    AlreadyMember,
    InvalidOrganizationName,
    InvitationInvalid,
    InvitationRateLimited,
    LastOwner,
)
from mailherd.tenancy.models import Invitation, Membership, Organization, Role, User
from mailherd.tenancy.selectors import can_manage_members, invitation_for_token_hash
from mailherd.tenancy.tokens import sign_in_tokens

ORGANIZATION_NAME_MAX = 100


def _clean_organization_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise InvalidOrganizationName("Give your organization a name.", field="name")
    if len(cleaned) > ORGANIZATION_NAME_MAX:
        raise InvalidOrganizationName(
            f"An organization name can have at most {ORGANIZATION_NAME_MAX} characters (this one has {len(cleaned)}).",
            field="name",
        )
    return cleaned


def _unique_slug(name: str) -> str:
    from mailherd.webmail.oidc_urls import RESERVED_SLUGS

    base = slugify(name)[:50] or "org"
    if base in RESERVED_SLUGS:  # /o/<slug>/ would be the OpenID provider's endpoint
        base = f"{base}-org"
    slug, counter = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug = f"{base}-{counter}"
        counter += 1
    return slug


def _default_plan() -> Plan:
    plan = Plan.objects.filter(slug=settings.MAILHERD_DEFAULT_PLAN).first()
    return plan or Plan.objects.order_by("sort_order").first()


@transaction.atomic
def organization_create(
    *, actor: Actor, name: str, owner=None, plan_slug: str | None = None
) -> Organization:
    """Create an organization with `owner` (default: the acting user) as its owner."""
    cleaned = _clean_organization_name(name)
    plan = Plan.objects.filter(slug=plan_slug).first() if plan_slug else _default_plan()
    if plan is None:
        raise NotFound(f"No plan with slug {plan_slug!r}.", field="plan")
    owner = owner or actor.user
    for _attempt in range(3):
        try:
            with transaction.atomic():
                organization = Organization.objects.create(
                    name=cleaned, slug=_unique_slug(cleaned), plan=plan
                )
            break
        except IntegrityError:  # a concurrent sign-up took the same slug
            continue
    else:
        raise InvalidOrganizationName(
            "Could not choose a unique address for this name; try another."
        )
    Membership.objects.create(organization=organization, user=owner, role=Role.OWNER)
    audit_record(
        actor=actor, action="organization.create", organization=organization, obj=organization
    )
    return organization


@transaction.atomic
def organization_rename(*, actor: Actor, membership: Membership, name: str) -> Organization:
    if not can_manage_members(membership):
        raise PermissionDenied("Only owners and admins can change the organization's settings.")
    organization = membership.organization
    organization.name = _clean_organization_name(name)
    organization.save(update_fields=["name"])
    audit_record(
        actor=actor, action="organization.rename", organization=organization, obj=organization
    )
    return organization


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


INVITATION_WINDOW = timedelta(hours=1)


def _invitation_limits_check(*, actor: Actor, organization) -> None:
    """Refuse a new invitation past MAILHERD_INVITATIONS_PER_ORG_HOUR (this organization) or
    MAILHERD_INVITATIONS_PER_SENDER_HOUR (this person, in any organization). Counted from the
    invitations themselves, with the organization row locked, so concurrent sends count too."""
    from mailherd.tenancy.locks import organization_lock

    organization_lock(organization_id=organization.pk)
    since = timezone.now() - INVITATION_WINDOW
    recent = Invitation.objects.filter(created_at__gte=since)
    checks = [
        (
            recent.filter(organization=organization),
            settings.MAILHERD_INVITATIONS_PER_ORG_HOUR,
            f"{organization.name} has sent",
            "organization",
        )
    ]
    if actor.user is not None:
        checks.append(
            (
                recent.filter(invited_by=actor.user),
                settings.MAILHERD_INVITATIONS_PER_SENDER_HOUR,
                "You have sent",
                "sender",
            )
        )
    for rows, limit, who, scope in checks:
        if limit and rows.count() >= limit:
            oldest = rows.order_by("created_at").values_list("created_at", flat=True).first()
            wait = max(1, int(((oldest + INVITATION_WINDOW) - timezone.now()).total_seconds() // 60) + 1)
            raise InvitationRateLimited(
                f"{who} {limit} invitations in the last hour, the most allowed. "
                f"Try again in {wait} minute{'s' if wait != 1 else ''}.",
                field="email",
                scope=scope,
                retry_after=wait * 60,
            )


def invitation_create(*, actor: Actor, membership: Membership, email: str, role: str) -> Invitation:
    """Invite `email` to the acting member's organization and email them a link (after commit).

    Limited per organization and per sender per hour; a refusal tells the operator once an hour
    per organization (`invitation_burst_alert`)."""
    try:
        return _invitation_create(actor=actor, membership=membership, email=email, role=role)
    except InvitationRateLimited as exc:
        invitation_burst_alert(actor=actor, organization=membership.organization, refusal=exc)
        raise


@transaction.atomic
def invitation_burst_alert(*, actor: Actor, organization, refusal: InvitationRateLimited) -> bool:
    """Tell the operator that `organization` hit an invitation limit (once an hour per organization):
    an audit row `invitation.burst` and an email to MAILHERD_OPERATOR_ALERT_EMAILS (else to every
    active operator). Returns True when an alert was raised now."""
    from mailherd.core.models import AuditEvent
    from mailherd.tenancy.locks import organization_lock

    organization_lock(organization_id=organization.pk)  # one alert, even from concurrent refusals
    if AuditEvent.objects.filter(
        action="invitation.burst",
        organization=organization,
        created_at__gte=timezone.now() - INVITATION_WINDOW,
    ).exists():
        return False
    since = timezone.now() - INVITATION_WINDOW
    sent = Invitation.objects.filter(organization=organization, created_at__gte=since).count()
    audit_record(
        actor=actor,
        action="invitation.burst",
        organization=organization,
        obj=organization,
        data={"scope": refusal.fields.get("scope"), "sent_last_hour": sent, "by": actor.label},
    )
    recipients = list(settings.MAILHERD_OPERATOR_ALERT_EMAILS) or list(
        User.objects.filter(is_staff=True, is_active=True).values_list("email", flat=True)
    )
    context = {
        "organization_name": organization.name,
        "organization_slug": organization.slug,
        "sender": actor.label,
        "sent": sent,
        "scope": refusal.fields.get("scope"),
        "link": settings.SITE_URL
        + reverse("admin:tenancy_organization_change", args=[organization.pk]),
    }
    for to in recipients:
        transaction.on_commit(
            lambda to=to: email_send(to=to, template="operator_invitation_burst", context=context)
        )
    return True


@transaction.atomic
def _invitation_create(*, actor: Actor, membership: Membership, email: str, role: str) -> Invitation:
    if not can_manage_members(membership):
        raise PermissionDenied("Only owners and admins can invite people.")
    if role not in Role.values:
        raise InvitationInvalid(f"Unknown role {role!r}.", field="role")
    if role == Role.OWNER and membership.role != Role.OWNER:
        raise PermissionDenied("Only an owner can invite another owner.")
    organization = membership.organization
    email = email.strip().lower()
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise AlreadyMember(f"{email} is already a member of {organization.name}.", field="email")
    _invitation_limits_check(actor=actor, organization=organization)
    # A new invitation replaces any pending one for the same address; say so if the role changes.
    pending = Invitation.objects.filter(
        organization=organization,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
    )
    replaced_roles = set(pending.values_list("role", flat=True))
    pending.update(revoked_at=timezone.now())
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        token_hash=_hash_token(token),
        invited_by=actor.user,
        expires_at=timezone.now() + timedelta(days=settings.MAILHERD_INVITATION_DAYS),
    )
    # The earlier invitation's role when this one changes it (None: new, or the same role).
    invitation.replaced_role = next(iter(replaced_roles - {role}), None)
    audit_record(actor=actor, action="invitation.create", organization=organization, obj=invitation)
    link = settings.SITE_URL + reverse("portal:invitation_accept", args=[token])
    transaction.on_commit(
        lambda: email_send(
            to=email,
            template="invitation",
            context={
                "organization": organization.name,
                "inviter": actor.label,
                "link": link,
                "role": Role(role).label.lower(),  # "mailbox user", not "mailbox_user"
            },
            organization=organization,
        )
    )
    return invitation


def invitation_preview(*, token: str) -> Invitation:
    """Return the pending invitation behind `token`, or raise InvitationInvalid saying why not."""
    invitation = invitation_for_token_hash(_hash_token(token))
    if invitation is None or invitation.revoked_at is not None:
        raise InvitationInvalid("This invitation link is not valid. Ask for a new invitation.")
    if invitation.accepted_at is not None:
        raise InvitationInvalid("This invitation has already been used.")
    if invitation.expires_at <= timezone.now():
        raise InvitationInvalid("This invitation has expired. Ask for a new invitation.")
    return invitation


@transaction.atomic
def invitation_accept(*, actor: Actor, token: str) -> Membership:
    invitation = invitation_preview(token=token)
    # Lock it so two clicks on the same link cannot both succeed.
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise InvitationInvalid("This invitation has already been used.")
    user = actor.user
    if user.email.lower() != invitation.email.lower():
        raise InvitationInvalid(
            f"This invitation was sent to {invitation.email}; sign in with that address to accept it."
        )
    if Membership.objects.filter(organization=invitation.organization, user=user).exists():
        raise AlreadyMember(f"You are already a member of {invitation.organization.name}.")
    membership = Membership.objects.create(
        organization=invitation.organization, user=user, role=invitation.role
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        actor=actor,
        action="invitation.accept",
        organization=invitation.organization,
        obj=invitation,
    )
    from mailherd.hosting.services.platform import platform_mailboxes_ensure

    platform_mailboxes_ensure(organization=invitation.organization)  # a paying organization's address
    return membership


@transaction.atomic
def invitation_revoke(*, actor: Actor, membership: Membership, invitation_id: int) -> None:
    if not can_manage_members(membership):
        raise PermissionDenied("Only owners and admins can revoke invitations.")
    invitation = Invitation.objects.filter(
        organization=membership.organization, pk=invitation_id
    ).first()
    if invitation is None:
        raise NotFound()
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor,
        action="invitation.revoke",
        organization=membership.organization,
        obj=invitation,
    )


@transaction.atomic
def membership_change_role(
    *, actor: Actor, membership: Membership, member_id: int, role: str
) -> Membership:
    if not can_manage_members(membership):
        raise PermissionDenied("Only owners and admins can change roles.")
    if role not in Role.values:
        raise InvitationInvalid(f"Unknown role {role!r}.", field="role")
    target = _member_for_update(membership, member_id)
    if Role.OWNER in (role, target.role) and membership.role != Role.OWNER:
        raise PermissionDenied("Only an owner can grant or take away the owner role.")
    if target.role == Role.OWNER and role != Role.OWNER:
        _ensure_other_owner(target)
    target.role = role
    target.save(update_fields=["role"])
    audit_record(
        actor=actor,
        action="membership.role",
        organization=membership.organization,
        obj=target,
        data={"role": role},
    )
    if not can_manage_members(target):
        _revoke_api_tokens_of(actor, target)  # they could no longer make them
    return target


def _revoke_api_tokens_of(actor: Actor, target: Membership) -> int:
    """API tokens (and AI agents) a member created stop when the member may no longer have them."""
    from django.utils import timezone

    from mailherd.api.models import ApiToken

    tokens = ApiToken.objects.filter(
        organization_id=target.organization_id, created_by_id=target.user_id, revoked_at__isnull=True
    )
    revoked = [t.prefix for t in tokens]
    if revoked:
        tokens.update(revoked_at=timezone.now())
        audit_record(
            actor=actor,
            action="api_token.revoke",
            organization=target.organization,
            obj=target,
            data={"tokens": revoked, "reason": "member's role or membership changed"},
        )
    return len(revoked)


@transaction.atomic
def membership_remove(*, actor: Actor, membership: Membership, member_id: int) -> None:
    target = _member_for_update(membership, member_id)
    leaving_self = target.pk == membership.pk
    if not leaving_self and not can_manage_members(membership):
        raise PermissionDenied("Only owners and admins can remove members.")
    if target.role == Role.OWNER:
        if not leaving_self and membership.role != Role.OWNER:
            raise PermissionDenied("Only an owner can remove an owner.")
        _ensure_other_owner(target)
    audit_record(
        actor=actor, action="membership.remove", organization=membership.organization, obj=target
    )
    _revoke_api_tokens_of(actor, target)
    from mailherd.hosting.services.platform import platform_mailboxes_release

    target.delete()
    # Their platform address (if this organization gave it) is removed after the grace period.
    platform_mailboxes_release(
        organization=membership.organization, user=target.user, reason="member_left", actor=actor
    )


def _member_for_update(membership: Membership, member_id: int) -> Membership:
    # Lock the organization first (lock order: organization, then its rows).
    Organization.objects.select_for_update(no_key=True).filter(
        pk=membership.organization_id
    ).first()
    target = (
        Membership.objects.select_related("user")
        .filter(organization=membership.organization, pk=member_id)
        .first()
    )
    if target is None:
        raise NotFound()
    return target


def _ensure_other_owner(target: Membership) -> None:
    others = Membership.objects.filter(
        organization=target.organization_id, role=Role.OWNER
    ).exclude(pk=target.pk)
    if not others.exists():
        raise LastOwner()


@transaction.atomic
def owner_account_ensure(*, email: str, password: str | None = None) -> tuple[User, list[str]]:
    """The user with `email`, created if new, with a verified address (the operator vouches for it).

    With `password`, the account signs in with it at once. Return (user, warnings): the password
    is the operator's choice, so weak-password findings are warnings, not errors.
    """
    from allauth.account.models import EmailAddress

    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed(
            f"{email or 'An empty value'} is not an email address.", field="email"
        )
    if password is not None and not password:
        raise ValidationFailed("The password is empty.", field="password")
    user, created = User.objects.get_or_create(email=email)
    warnings: list[str] = []
    if password is not None:
        if not created and user.has_usable_password() and not user.check_password(password):
            raise Conflict(
                f"{email} already has an account with another password; leave out the password"
                " and use the sign-in link, or sign in as that user.",
                field="password",
            )
        try:
            validate_password(password, user)
        except ValidationError as exc:
            warnings.extend(exc.messages)
        user.set_password(password)
        user.save(update_fields=["password"])
    elif created:
        user.set_unusable_password()  # they choose one after following the sign-in link
        user.save(update_fields=["password"])
    address, _ = EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    if not address.verified:
        address.verified = True
        address.save(update_fields=["verified"])
    return user, warnings


def sign_in_link_create(*, user: User) -> str:
    """An absolute one-time link that signs `user` in (valid PASSWORD_RESET_TIMEOUT)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    path = reverse("portal:sign_in_link", args=[uid, sign_in_tokens.make_token(user)])
    return settings.SITE_URL + path
