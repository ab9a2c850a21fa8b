"""Writes made by the operator's staff: branding, switches, plan changes, customer views."""

from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import NotFound, ValidationFailed
from mailherd.hosting.services import organization_limits_changed
from mailherd.operator.errors import PlanChangeRefused
from mailherd.operator.models import Branding, FeatureSwitch
from mailherd.operator.selectors import (
    SWITCHES,
    branding_cache_clear,
    plan_excess,
    switches_cache_clear,
)
from mailherd.plans.models import Plan
from mailherd.tenancy.locks import organization_lock

LOGO_MAX_BYTES = 512 * 1024
LOGO_TYPES = {"image/png", "image/svg+xml", "image/jpeg", "image/webp", "image/gif"}


@transaction.atomic  # also called from admin save hooks, which run inside a transaction
def branding_update(
    *, actor: Actor, branding: Branding, changed: list[str] | None = None
) -> Branding:
    """Save the branding row (always pk=1) and drop the cached copy after commit."""
    branding.pk = 1
    branding.save()
    audit_record(
        actor=actor, action="branding.update", obj=branding, data={"changed": changed or []}
    )
    # Now (this request re-reads it) and after commit (no one re-caches the old row meanwhile).
    branding_cache_clear()
    transaction.on_commit(branding_cache_clear)
    return branding


def branding_logo_set(*, branding: Branding, content: bytes, content_type: str) -> None:
    """Attach an uploaded logo to `branding` (not saved: branding_update saves)."""
    if content_type not in LOGO_TYPES:
        raise ValidationFailed(
            "The logo must be a PNG, SVG, JPEG, WebP or GIF image.", field="logo"
        )
    if len(content) > LOGO_MAX_BYTES:
        raise ValidationFailed("The logo must be at most 512 KiB.", field="logo")
    branding.logo = content
    branding.logo_content_type = content_type


@transaction.atomic  # also called from admin save hooks, which run inside a transaction
def feature_switch_set(*, actor: Actor, name: str, enabled: bool, note: str = "") -> FeatureSwitch:
    """Turn a global feature on or off for everyone (takes effect within a minute everywhere)."""
    if name not in SWITCHES:
        raise NotFound(f"No feature switch named {name!r}.", field="name")
    switch, _ = FeatureSwitch.objects.update_or_create(
        name=name, defaults={"enabled": enabled, "note": note}
    )
    audit_record(
        actor=actor, action="feature.switch", obj=switch, data={"name": name, "enabled": enabled}
    )
    switches_cache_clear()
    transaction.on_commit(switches_cache_clear)
    return switch


def feature_switch_rows_ensure() -> None:
    """A row for every known switch, at its default (nothing changes: no audit event)."""
    for name, (default, _description) in SWITCHES.items():
        FeatureSwitch.objects.get_or_create(name=name, defaults={"enabled": default})


@transaction.atomic(durable=True)
def organization_plan_change(*, actor: Actor, organization_id: int, plan_id: int):
    """Move an organization to another plan; refused when it uses more than that plan allows.

    The organization row is locked before usage is counted, so a mailbox created
    concurrently cannot slip past the check.
    """
    organization = organization_lock(organization_id=organization_id)
    plan = Plan.objects.filter(pk=plan_id).first()
    if plan is None:
        raise NotFound("No such plan.", field="plan")
    if plan.pk == organization.plan_id:
        return organization
    problems = plan_excess(organization=organization, plan=plan)
    if problems:
        raise PlanChangeRefused(
            f"{organization.name} uses more than {plan.name} allows: " + "; ".join(problems) + ".",
            field="plan",
            problems=problems,
        )
    previous = organization.plan
    organization.plan = plan
    organization.save(update_fields=["plan"])
    # Mailcow's per-domain limits follow the plan.
    organization_limits_changed(actor=actor, organization=organization)
    audit_record(
        actor=actor,
        action="organization.plan_change",
        organization=organization,
        obj=organization,
        data={"from": previous.slug, "to": plan.slug},
    )
    return organization


@transaction.atomic(durable=True)
def customer_view_start(*, actor: Actor, organization) -> None:
    """Record that an operator opened the read-only customer view of `organization`.

    The record lands in the organization's own audit trail, so its owners see it.
    """
    audit_record(
        actor=actor,
        action="organization.view_as_customer",
        organization=organization,
        obj=organization,
    )


@transaction.atomic  # also called from admin save hooks, which run inside a transaction
def plan_retire(*, actor: Actor, plan_id: int, retired: bool = True) -> Plan:
    """Stop (or resume) selling a plan; organizations on it keep it."""
    plan = Plan.objects.select_for_update().get(pk=plan_id)
    if plan.is_retired != retired:
        plan.is_retired = retired
        plan.save(update_fields=["is_retired"])
        audit_record(actor=actor, action="plan.retire" if retired else "plan.unretire", obj=plan)
    return plan


# --- operator sign-in: one-time authenticator set-up links ----------------------------------

ENROLMENT_HOURS = 72


def operator_enrolment_create(*, actor: Actor, user) -> str:
    """Issue a one-time set-up link for a staff account without an authenticator; return its URL.

    Earlier unused links of the same account stop working.
    """
    import hashlib
    import secrets
    from datetime import timedelta

    from django.urls import reverse
    from django.utils import timezone

    from mailherd.operator.models import OperatorEnrolment
    from mailherd.operator.selectors import branding_get, operator_has_two_factor

    if not user.is_staff or not user.is_active:
        raise ValidationFailed(f"{user.email} is not an active operator account.")
    if operator_has_two_factor(user):
        raise ValidationFailed(f"{user.email} has already set up two-factor sign-in.")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        OperatorEnrolment.objects.filter(user=user, used_at__isnull=True).update(used_at=now)
        enrolment = OperatorEnrolment.objects.create(
            user=user,
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
            created_by=actor.user,
            expires_at=now + timedelta(hours=ENROLMENT_HOURS),
        )
        audit_record(actor=actor, action="operator.enrolment_create", obj=enrolment)
    return branding_get().site_url + reverse("admin:operator_enrol", args=[token])


def operator_enrolment_open(*, request, token: str) -> None:
    """Let this signed-in session set up the authenticator the link was made for."""
    import hashlib

    from django.utils import timezone

    from mailherd.operator.models import OperatorEnrolment

    enrolment = OperatorEnrolment.objects.filter(
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        used_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).first()
    if enrolment is None or enrolment.user_id != request.user.pk:
        raise NotFound(
            "This set-up link is not valid for this account: it was used, it expired, or it "
            "belongs to someone else. Ask the operator who created your account for a new one."
        )
    request.session[ENROLMENT_SESSION_KEY] = enrolment.pk


ENROLMENT_SESSION_KEY = "mailherd_operator_enrolment"
TWO_FACTOR_SESSION_KEY = "mailherd_operator_two_factor"


def operator_enrolment_complete(*, request, user) -> None:
    """The authenticator was added in this session: the link is spent and the session passed."""
    from django.utils import timezone

    from mailherd.operator.models import OperatorEnrolment

    enrolment_id = request.session.pop(ENROLMENT_SESSION_KEY, None)
    if enrolment_id is not None:
        OperatorEnrolment.objects.filter(pk=enrolment_id, user=user).update(used_at=timezone.now())
    request.session[TWO_FACTOR_SESSION_KEY] = user.pk
