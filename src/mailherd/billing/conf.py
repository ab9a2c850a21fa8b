"""Billing knobs the operator can set (in settings, as BILLING_*), with their defaults.

Read through functions, not module constants, so a changed setting (or a test's
override_settings) takes effect without a restart of the importing module.
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


def billing_enabled() -> bool:
    """Billing runs only with a Stripe secret key; without one the operator assigns plans."""
    return bool(getattr(settings, "STRIPE_SECRET_KEY", None))


def retry_days() -> tuple[int, ...]:
    return tuple(sorted(getattr(settings, "BILLING_DUNNING_RETRY_DAYS", DEFAULT_RETRY_DAYS)))


def grace_period() -> timedelta:
    return timedelta(days=getattr(settings, "BILLING_DUNNING_GRACE_DAYS", DEFAULT_GRACE_DAYS))


def deactivate_after() -> timedelta:
    return timedelta(days=getattr(settings, "BILLING_DUNNING_DEACTIVATE_DAYS", DEFAULT_DEACTIVATE_DAYS))


def delete_after() -> timedelta:
    return timedelta(days=getattr(settings, "BILLING_DUNNING_DELETE_DAYS", DEFAULT_DELETE_DAYS))


def deletion_warning_days() -> tuple[int, ...]:
    """Days before the deletion on which a warning goes out, earliest warning first."""
    days = getattr(settings, "BILLING_DUNNING_DELETION_WARNING_DAYS", DEFAULT_DELETION_WARNING_DAYS)
    return tuple(sorted(days, reverse=True))


def notices() -> tuple[tuple[str, int], ...]:
    return tuple(getattr(settings, "BILLING_DUNNING_NOTICES", DEFAULT_NOTICES))


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
