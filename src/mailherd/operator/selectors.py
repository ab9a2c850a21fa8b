"""Reads for the back office: branding, feature switches, the dashboard, an organization's file.

Hosting and billing models are being written alongside this app, so every read
of them goes through `_model()` and degrades to "nothing yet" when absent.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from django.apps import apps
from django.core.cache import cache
from django.db.models import Count, Sum
from django.http import Http404

from mailherd.operator.errors import FeatureDisabled, FeaturePaused
from mailherd.operator.models import Branding, FeatureSwitch
from mailherd.plans.models import Feature

BRANDING_CACHE_KEY = "mailherd:operator:branding:v1"
SWITCHES_CACHE_KEY = "mailherd:operator:switches:v1"
# Short: with the per-process default cache, other processes see a change within this time.
CACHE_SECONDS = 60

EMAIL_HOSTING = "email_hosting"
# Global switches and their defaults when no FeatureSwitch row exists.
SWITCHES: dict[str, tuple[bool, str]] = {
    EMAIL_HOSTING: (True, "Email hosting: domains, mailboxes and aliases (portal, API, MCP)"),
}


def _model(app_label: str, name: str):
    """Return the model `app_label.name` if it exists yet, else None."""
    try:
        return apps.get_model(app_label, name)
    except LookupError:
        return None


# --- branding -------------------------------------------------------------------------------


def branding_get() -> Branding:
    """Return the operator's branding (cached); defaults when none was saved yet."""
    branding = cache.get(BRANDING_CACHE_KEY)
    if branding is None:
        branding = Branding.objects.filter(pk=1).first() or Branding(pk=1)
        cache.set(BRANDING_CACHE_KEY, branding, CACHE_SECONDS)
    return branding


def branding_cache_clear() -> None:
    cache.delete(BRANDING_CACHE_KEY)


# --- feature flags --------------------------------------------------------------------------


def _switches() -> dict[str, bool]:
    switches = cache.get(SWITCHES_CACHE_KEY)
    if switches is None:
        switches = dict(FeatureSwitch.objects.values_list("name", "enabled"))
        cache.set(SWITCHES_CACHE_KEY, switches, CACHE_SECONDS)
    return switches


def switches_cache_clear() -> None:
    cache.delete(SWITCHES_CACHE_KEY)


def feature_enabled(name: str, organization=None) -> bool:
    """Return True if feature `name` is available (to `organization`, when given).

    1. A global switch (a FeatureSwitch row, else the default in SWITCHES, else on)
       turns the feature off for everyone.
    2. A per-plan feature (a `plans.Feature` value) is on for an organization only
       when its plan lists it.

    >>> feature_enabled("email_hosting")             # the global switch
    >>> feature_enabled("api", organization=acme)    # Acme's plan must list "api"
    """
    default = SWITCHES.get(name, (True, ""))[0]
    if not _switches().get(name, default):
        return False
    if organization is not None and name in Feature.values:
        return organization.plan.has_feature(name)
    return True


def feature_switched_off(name: str) -> bool:
    """True while the operator's global switch for `name` is off (maintenance)."""
    return not feature_enabled(name)


def feature_require(name: str, organization=None) -> None:
    """For API/MCP: raise FeaturePaused (HTTP 503, code maintenance) while the global switch is
    off, FeatureDisabled (code not_found, HTTP 404) when the organization's plan lacks it."""
    if feature_switched_off(name):
        raise FeaturePaused()
    if not feature_enabled(name, organization):
        raise FeatureDisabled()


def feature_view(name: str):
    """Decorate a portal view: the maintenance page (503) while the global switch is off, 404 when
    the plan lacks the feature (after org_view)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if feature_switched_off(name):
                from mailherd.operator.maintenance import maintenance_response

                organization = getattr(request, "organization", None)
                return maintenance_response(
                    request, org_slug=organization.slug if organization else None
                )
            if not feature_enabled(name, getattr(request, "organization", None)):
                raise Http404("No such page")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def feature_switch_list() -> list[dict]:
    rows = {row.name: row for row in FeatureSwitch.objects.all()}
    names = sorted(set(SWITCHES) | set(rows))
    return [
        {
            "name": name,
            "label": name.replace("_", " ").capitalize(),
            "description": SWITCHES.get(name, (True, ""))[1],
            "enabled": rows[name].enabled if name in rows else SWITCHES.get(name, (True,))[0],
        }
        for name in names
    ]


# --- dashboard ------------------------------------------------------------------------------


@dataclass
class ServerLoad:
    server: object
    mailboxes: int
    organizations: int

    @property
    def percent(self) -> int:
        capacity = self.server.capacity_mailboxes
        return min(100, round(100 * self.mailboxes / capacity)) if capacity else 100


@dataclass
class Dashboard:
    organizations_by_status: list[tuple[str, str, int]]
    organizations_total: int
    mrr: list[tuple[str, int]]  # (currency, cents)
    mrr_source: str
    past_due_count: int | None
    past_due_amount: list[tuple[str, int]]
    servers: list[ServerLoad]
    unassigned_mailboxes: int
    outbox: dict[str, int] = field(default_factory=dict)
    outbox_failed: list = field(default_factory=list)
    outbox_available: bool = False
    plan_requests_pending: int = 0  # manual billing: plans customers asked for
    webhook_dead_letters: int = 0  # Stripe events that kept failing

    @property
    def mrr_amounts(self) -> list[tuple[str, float]]:
        return [(currency, cents / 100) for currency, cents in self.mrr]

    @property
    def past_due_amounts(self) -> list[tuple[str, float]]:
        return [(currency, cents / 100) for currency, cents in self.past_due_amount]


def _billing_summary() -> dict | None:
    """Billing's own figures when it offers them (`billing.selectors.operator_billing_summary`)."""
    try:
        from mailherd.billing import selectors as billing_selectors
    except ImportError:
        return None
    summary = getattr(billing_selectors, "operator_billing_summary", None)
    return summary() if summary else None


def operator_dashboard() -> Dashboard:
    from mailherd.mailcow.models import MailServer
    from mailherd.tenancy.models import Organization

    counts = dict(
        Organization.objects.values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    by_status = [
        (value, label, counts.get(value, 0)) for value, label in Organization.Status.choices
    ]

    billing = _billing_summary()
    if billing is not None:
        mrr = list(billing.get("mrr", []))
        mrr_source = "the list prices of paying subscriptions (trials excluded)"
        past_due_count = billing.get("past_due_count")
        past_due_amount = list(billing.get("past_due_amount", []))
        to_do = {
            key: billing.get(key, 0) for key in ("plan_requests_pending", "webhook_dead_letters")
        }
    else:
        to_do = {}
        rows = (
            Organization.objects.filter(status=Organization.Status.ACTIVE)
            .values("plan__currency")
            .annotate(cents=Sum("plan__price_monthly_cents"))
            .order_by("plan__currency")
        )
        mrr = [(row["plan__currency"], row["cents"] or 0) for row in rows]
        mrr_source = "plan prices of active organizations"
        past_due_count, past_due_amount = None, []

    mailbox_model = _model("hosting", "Mailbox")
    per_server: dict = {}
    if mailbox_model is not None:
        per_server = dict(
            mailbox_model.objects.values("domain__mail_server")
            .annotate(n=Count("id"))
            .values_list("domain__mail_server", "n")
        )
    orgs_per_server = dict(
        Organization.objects.values("mail_server")
        .annotate(n=Count("id"))
        .values_list("mail_server", "n")
    )
    servers = [
        ServerLoad(server, per_server.get(server.pk, 0), orgs_per_server.get(server.pk, 0))
        for server in MailServer.objects.all()
    ]

    dashboard = Dashboard(
        organizations_by_status=by_status,
        organizations_total=sum(counts.values()),
        mrr=mrr,
        mrr_source=mrr_source,
        past_due_count=past_due_count,
        past_due_amount=past_due_amount,
        servers=servers,
        unassigned_mailboxes=per_server.get(None, 0),
        **to_do,
    )
    op_model = _model("hosting", "ProvisioningOp")
    if op_model is not None:
        dashboard.outbox_available = True
        dashboard.outbox = dict(
            op_model.objects.values("status").annotate(n=Count("id")).values_list("status", "n")
        )
        dashboard.outbox_failed = list(
            op_model.objects.filter(status="failed").order_by("-pk")[:10]
        )
    return dashboard


# --- one organization -----------------------------------------------------------------------


def organization_hosting_objects(*, organization) -> dict:
    """Domains, mailboxes and aliases of `organization` as querysets (pages are cut by the view)."""
    result = {}
    for key, name, order in (
        ("domains", "Domain", "name"),
        ("mailboxes", "Mailbox", "address"),
        ("aliases", "Alias", "address"),
    ):
        model = _model("hosting", name)
        result[key] = (
            model.objects.filter(organization=organization).order_by(order)
            if model is not None
            else []
        )
    return result


def organization_invoices(*, organization) -> list:
    model = _model("billing", "Invoice")
    if model is None or not any(f.name == "organization" for f in model._meta.get_fields()):
        return []
    return list(model.objects.filter(organization=organization).order_by("-pk")[:20])


def organization_audit_list(*, organization, action: str = "", actor: str = ""):
    """The organization's audit trail, newest first, optionally filtered."""
    from mailherd.core.models import AuditEvent

    events = AuditEvent.objects.filter(organization=organization)
    if action:
        events = events.filter(action__startswith=action)
    if actor:
        events = events.filter(actor_label__icontains=actor)
    return events.order_by("-created_at", "-pk")


def plan_excess(*, organization, plan) -> list[str]:
    """Return a sentence per limit that `organization` uses beyond `plan` (empty: it fits)."""
    from mailherd.plans.selectors import plan_fit_problems

    return plan_fit_problems(organization=organization, plan=plan)


# --- operator sign-in -----------------------------------------------------------------------


def operator_has_two_factor(user) -> bool:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import is_mfa_enabled

    return is_mfa_enabled(user, [Authenticator.Type.TOTP])


def session_passed_two_factor(request) -> bool:
    """Whether *this session* entered a second factor (not merely: the user has one)."""
    from allauth.account.authentication import get_authentication_records

    from mailherd.operator.services import TWO_FACTOR_SESSION_KEY

    user = request.user
    if request.session.get(TWO_FACTOR_SESSION_KEY) == user.pk:
        return True
    return any(r.get("method") == "mfa" for r in get_authentication_records(request, user))


def session_may_enrol(request) -> bool:
    """Whether this session opened a valid set-up link for its own account."""
    from django.utils import timezone

    from mailherd.operator.models import OperatorEnrolment
    from mailherd.operator.services import ENROLMENT_SESSION_KEY

    enrolment_id = request.session.get(ENROLMENT_SESSION_KEY)
    return (
        enrolment_id is not None
        and OperatorEnrolment.objects.filter(
            pk=enrolment_id,
            user_id=request.user.pk,
            used_at__isnull=True,
            expires_at__gt=timezone.now(),
        ).exists()
    )


def periodic_job_list() -> list[dict]:
    """The periodic jobs (src/mailherd/schedule.py) with when each last ran, for a read-only view."""
    from django.conf import settings

    last_runs = {}
    model = _model("django_celery_beat", "PeriodicTask")
    if model is not None:
        last_runs = dict(model.objects.values_list("name", "last_run_at"))
    jobs = []
    for name, entry in sorted(settings.CELERY_BEAT_SCHEDULE.items()):
        seconds = float(entry["schedule"]) if isinstance(entry["schedule"], int | float) else None
        jobs.append(
            {
                "name": name,
                "task": entry["task"].rsplit(".", 1)[-1],
                "every": _every(seconds) if seconds else str(entry["schedule"]),
                "last_run_at": last_runs.get(name),
            }
        )
    return jobs


def _every(seconds: float) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"every {unit}" if count == 1 else f"every {count} {unit}s"
    return f"every {int(seconds)} seconds"
