"""Outbound rate limits per mailbox and per domain (Mailcow's rl-mbox / rl-domain).

Each plan sets a default for mailboxes and one for domains; a customer may
set a lower limit on one mailbox or domain, never a higher one. The limit that
applies is the lower of the two (after a downgrade the plan's wins), and the
outbox and the reconciler keep Mailcow at exactly that limit.
"""

from dataclasses import dataclass

from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import NotFound, ValidationFailed
from mailherd.hosting.models import Domain, Mailbox, ProvisioningOp, SyncStatus
from mailherd.hosting.services.limits import ensure_writable, writable_organization_lock
from mailherd.hosting.services.outbox import domain_key, enqueue
from mailherd.hosting.validation import clean_domain_name
from mailherd.tenancy.locks import organization_row_lock

FRAME_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
FRAME_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
MAX_RATE_VALUE = 1_000_000


class RateLimitAbovePlan(ValidationFailed):
    code = "rate_limit_above_plan"


@dataclass(frozen=True)
class RateLimit:
    value: int
    frame: str
    source: str = "custom"  # "plan": the plan's default; "custom": the customer's own

    @property
    def per_second(self) -> float:
        return self.value / FRAME_SECONDS[self.frame]

    @property
    def label(self) -> str:
        return f"{self.value} per {FRAME_WORDS[self.frame]}"

    def as_dict(self) -> dict:
        return {"value": self.value, "frame": self.frame, "source": self.source}


def plan_rate_limit(plan, scope: str) -> RateLimit | None:
    """The plan's default for `scope` ("mailbox" or "domain"); None when the plan sets none."""
    value = getattr(plan, f"{scope}_rate_limit")
    return RateLimit(value, getattr(plan, f"{scope}_rate_frame"), "plan") if value else None


def effective_rate_limit(obj, plan, scope: str) -> RateLimit | None:
    """What Mailcow enforces for a mailbox or domain: the lower of its own and the plan's."""
    default = plan_rate_limit(plan, scope)
    own = RateLimit(obj.rate_limit, obj.rate_frame or "h") if obj.rate_limit else None
    if own is None:
        return default
    if default is not None and default.per_second < own.per_second:
        return default
    return own


def clean_rate_limit(data) -> tuple[int, str] | None:
    """`{"value": 100, "frame": "h"}` -> (100, "h"); None clears. Plain errors for anything else."""
    if data is None:
        return None
    if hasattr(data, "model_dump"):
        data = data.model_dump()
    if not isinstance(data, dict):
        raise ValidationFailed(
            'Give the rate limit as {"value": 100, "frame": "h"}, or null to use the plan\'s.',
            field="rate_limit",
        )
    value, frame = data.get("value"), data.get("frame") or "h"
    if frame not in FRAME_SECONDS:
        raise ValidationFailed(
            "The frame must be s (second), m (minute), h (hour) or d (day).", field="rate_limit"
        )
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(
            "The rate limit must be a whole number of messages.", field="rate_limit"
        ) from None
    if not 1 <= value <= MAX_RATE_VALUE:
        raise ValidationFailed(
            f"The rate limit must be between 1 and {MAX_RATE_VALUE} messages "
            "(use null to go back to the plan's default).",
            field="rate_limit",
        )
    return value, frame


def _check_within_plan(value: int, frame: str, plan, scope: str) -> None:
    default = plan_rate_limit(plan, scope)
    if default is not None and RateLimit(value, frame).per_second > default.per_second:
        raise RateLimitAbovePlan(
            f"Your {plan.name} plan allows at most {default.label} per {scope}; "
            "choose that or a lower limit.",
            field="rate_limit",
            plan_limit=default.as_dict(),
        )


def _apply(obj, cleaned) -> dict:
    before = {"value": obj.rate_limit, "frame": obj.rate_frame or None}
    obj.rate_limit, obj.rate_frame = cleaned if cleaned else (None, "")
    return {"before": before, "after": {"value": obj.rate_limit, "frame": obj.rate_frame or None}}


@transaction.atomic
def mailbox_rate_limit_set(*, actor: Actor, organization, address: str, rate_limit) -> Mailbox:
    """Set a mailbox's own outbound limit (at most the plan's), or clear it with None."""
    cleaned = clean_rate_limit(rate_limit)
    organization, mailbox = organization_row_lock(
        organization_id=organization.pk, model=Mailbox, label="mailbox", address=address
    )
    ensure_writable(organization)
    if cleaned:
        _check_within_plan(*cleaned, organization.plan, "mailbox")
    if (mailbox.rate_limit, mailbox.rate_frame or "") == (cleaned or (None, "")):
        return mailbox
    change = _apply(mailbox, cleaned)
    mailbox.sync_status = SyncStatus.PENDING
    mailbox.save(update_fields=["rate_limit", "rate_frame", "sync_status", "updated_at"])
    enqueue(
        kind=ProvisioningOp.Kind.MAILBOX_UPDATE,
        object_key=f"mailbox:{mailbox.address}",
        organization=organization,
        domain_name=mailbox.domain.name,
    )
    audit_record(
        actor=actor,
        action="mailbox.rate_limit",
        organization=organization,
        obj=mailbox,
        data=change,
    )
    return mailbox


@transaction.atomic
def domain_rate_limit_set(*, actor: Actor, organization, name: str, rate_limit) -> Domain:
    """Set a domain's own outbound limit (at most the plan's), or clear it with None."""
    cleaned = clean_rate_limit(rate_limit)
    organization = writable_organization_lock(organization_id=organization.pk)
    domain = (
        Domain.objects.select_for_update()
        .filter(organization=organization, name=clean_domain_name(name))
        .first()
    )
    if domain is None:
        raise NotFound(f"No domain {name} in this organization.")
    if cleaned:
        _check_within_plan(*cleaned, organization.plan, "domain")
    if (domain.rate_limit, domain.rate_frame or "") == (cleaned or (None, "")):
        return domain
    change = _apply(domain, cleaned)
    domain.save(update_fields=["rate_limit", "rate_frame", "updated_at"])
    if domain.is_verified:
        enqueue(
            kind=ProvisioningOp.Kind.DOMAIN_UPDATE,
            object_key=domain_key(domain.name),
            organization=organization,
            domain_name=domain.name,
        )
    audit_record(
        actor=actor, action="domain.rate_limit", organization=organization, obj=domain, data=change
    )
    return domain
