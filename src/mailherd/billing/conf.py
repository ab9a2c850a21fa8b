"""Billing knobs, with their defaults.

Each knob is read, in order, from the back office's billing settings row
(`BillingSettings`, pk=1; a blank field means "not set"), from Django settings
(BILLING_*, the environment defaults) and from the built-in default below.
Read through functions, not module constants, so a change takes effect at once.
See docs/billing.md for what each stage does.
"""

from datetime import timedelta

from django.conf import settings

# Days after the first failed payment on which Mailherd retries the open invoice.
DEFAULT_RETRY_DAYS = (1, 3, 5, 7)
# Days after the first failed payment before the organization is suspended
# (the last retry runs first, on the same sweep).
DEFAULT_GRACE_DAYS = 7
# Escalating emails: (template, day after the first failure). "suspended" goes
# out when the suspension happens, "restored" on recovery.
DEFAULT_NOTICES = (
    ("billing_payment_failed", 0),
    ("billing_payment_reminder", 3),
    ("billing_final_notice", 5),
)
# Later stages of a billing suspension, in days after the suspension:
# mailboxes and domains deactivated (mail refused), then the mail data deleted,
# with warning emails that many days before the deletion.
DEFAULT_DEACTIVATE_DAYS = 30
DEFAULT_DELETE_DAYS = 90
DEFAULT_DELETION_WARNING_DAYS = (14, 3)
# How long a sweep worker holds a claimed subscription before another may retry it.
DUNNING_CLAIM_SECONDS = 600


DEFAULT_MANUAL_INVOICE_DUE_DAYS = 14


def billing_enabled() -> bool:
    """Stripe billing runs only with a Stripe secret key."""
    return bool(getattr(settings, "STRIPE_SECRET_KEY", None))


def billing_mode() -> str:
    """"stripe" with a Stripe key; otherwise "manual": the operator approves plans and invoices by hand."""
    return "stripe" if billing_enabled() else "manual"


def _stored(field: str):
    """The back office's value of a knob, or None when it is blank (or not migrated yet)."""
    from django.db import DatabaseError

    from mailherd.billing.models import BillingSettings

    try:
        row = BillingSettings.objects.filter(pk=1).first()
    except DatabaseError:
        return None
    if row is None:
        return None
    value = getattr(row, field)
    return None if value in (None, "") else value


def parse_days(text: str) -> tuple[int, ...]:
    """ "1, 3, 5" → (1, 3, 5); raise ValueError on anything else."""
    parts = [p for p in str(text).replace(";", ",").replace(" ", ",").split(",") if p]
    days = tuple(int(p) for p in parts)
    if any(d < 0 for d in days):
        raise ValueError("days cannot be negative")
    return days


def _days(field: str, setting: str, default):
    stored = _stored(field)
    if stored is not None:
        return parse_days(stored)
    return tuple(getattr(settings, setting, default))


def _number(field: str, setting: str, default) -> int:
    stored = _stored(field)
    return int(stored) if stored is not None else int(getattr(settings, setting, default))


def environment_defaults() -> dict:
    """What each knob is without the back office's value (shown as the fields' placeholders)."""
    days = dict(getattr(settings, "BILLING_DUNNING_NOTICES", DEFAULT_NOTICES))
    return {
        "retry_days": ", ".join(
            str(d) for d in getattr(settings, "BILLING_DUNNING_RETRY_DAYS", DEFAULT_RETRY_DAYS)
        ),
        "grace_days": getattr(settings, "BILLING_DUNNING_GRACE_DAYS", DEFAULT_GRACE_DAYS),
        "reminder_day": days.get("billing_payment_reminder", ""),
        "final_notice_day": days.get("billing_final_notice", ""),
        "deactivate_days": getattr(
            settings, "BILLING_DUNNING_DEACTIVATE_DAYS", DEFAULT_DEACTIVATE_DAYS
        ),
        "delete_days": getattr(settings, "BILLING_DUNNING_DELETE_DAYS", DEFAULT_DELETE_DAYS),
        "deletion_warning_days": ", ".join(
            str(d)
            for d in getattr(
                settings, "BILLING_DUNNING_DELETION_WARNING_DAYS", DEFAULT_DELETION_WARNING_DAYS
            )
        ),
        "manual_invoice_due_days": getattr(
            settings, "BILLING_MANUAL_INVOICE_DUE_DAYS", DEFAULT_MANUAL_INVOICE_DUE_DAYS
        ),
    }


def retry_days() -> tuple[int, ...]:
    return tuple(sorted(_days("retry_days", "BILLING_DUNNING_RETRY_DAYS", DEFAULT_RETRY_DAYS)))


def grace_period() -> timedelta:
    return timedelta(days=_number("grace_days", "BILLING_DUNNING_GRACE_DAYS", DEFAULT_GRACE_DAYS))


def deactivate_after() -> timedelta:
    return timedelta(
        days=_number("deactivate_days", "BILLING_DUNNING_DEACTIVATE_DAYS", DEFAULT_DEACTIVATE_DAYS)
    )


def delete_after() -> timedelta:
    return timedelta(
        days=_number("delete_days", "BILLING_DUNNING_DELETE_DAYS", DEFAULT_DELETE_DAYS)
    )


def deletion_warning_days() -> tuple[int, ...]:
    """Days before the deletion on which a warning goes out, earliest warning first."""
    days = _days(
        "deletion_warning_days",
        "BILLING_DUNNING_DELETION_WARNING_DAYS",
        DEFAULT_DELETION_WARNING_DAYS,
    )
    return tuple(sorted(days, reverse=True))


def notices() -> tuple[tuple[str, int], ...]:
    schedule = list(getattr(settings, "BILLING_DUNNING_NOTICES", DEFAULT_NOTICES))
    overrides = {
        "billing_payment_reminder": _stored("reminder_day"),
        "billing_final_notice": _stored("final_notice_day"),
    }
    schedule = [
        (kind, int(overrides[kind]) if overrides.get(kind) is not None else day)
        for kind, day in schedule
    ]
    return tuple(sorted(schedule, key=lambda item: item[1]))


def manual_invoice_due_days() -> int:
    return _number(
        "manual_invoice_due_days",
        "BILLING_MANUAL_INVOICE_DUE_DAYS",
        DEFAULT_MANUAL_INVOICE_DUE_DAYS,
    )


def stripe_origin() -> str:
    """The origin Stripe.js loads from and talks to: Stripe's, or localstripe's."""
    from urllib.parse import urlsplit

    base = getattr(settings, "STRIPE_API_BASE", None)
    if not base:
        return "https://js.stripe.com"
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


def stripe_js_url() -> str:
    """Stripe.js, or localstripe's stand-in when the API is localstripe (tests, demos)."""
    base = getattr(settings, "STRIPE_API_BASE", None)
    if base:
        return base.rstrip("/") + "/js.stripe.com/v3/"
    return "https://js.stripe.com/v3/"
