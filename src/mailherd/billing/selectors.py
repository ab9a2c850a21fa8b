"""Reads for billing: an organization's subscription, invoices and the plans it can switch to."""

from dataclasses import dataclass

from mailherd.billing.models import Invoice, Subscription
from mailherd.plans.models import Plan
from mailherd.plans.selectors import plan_fit_problems


def subscription_get(*, organization) -> Subscription | None:
    return Subscription.objects.select_related("plan").filter(organization=organization).first()


def invoice_list(*, organization):
    """The organization's invoices as the customer sees them (drafts are not invoices yet)."""
    return (
        Invoice.objects.filter(organization=organization)
        .exclude(status=Invoice.Status.DRAFT)
        .prefetch_related("refunds")
    )


def invoice_list_open(*, subscription: Subscription):
    return Invoice.objects.filter(subscription=subscription, status=Invoice.Status.OPEN).order_by(
        "issued_at", "pk"
    )


def plan_for_stripe_price(*, price_id: str, metadata: dict | None = None) -> Plan | None:
    """Map a Stripe price (or legacy plan) back to a Mailherd plan: by id, then by metadata slug."""
    from mailherd.billing.gateway import PLAN_METADATA_KEY

    plan = Plan.objects.filter(stripe_price_id=price_id).first() if price_id else None
    if plan is None and metadata and metadata.get(PLAN_METADATA_KEY):
        plan = Plan.objects.filter(slug=metadata[PLAN_METADATA_KEY]).first()
    return plan


@dataclass(frozen=True)
class PlanChoice:
    plan: Plan
    is_current: bool
    direction: str  # "current", "upgrade", "downgrade", "subscribe"
    problems: list[str]


def plan_choices(*, organization, subscription: Subscription | None) -> list[PlanChoice]:
    """Every plan on sale (plus the current one), with what switching to it would need."""
    live = subscription is not None and subscription.is_live
    current = subscription.plan if live and subscription.plan else None
    plans = list(Plan.objects.filter(is_public=True, is_retired=False))
    if current is not None and current not in plans:
        plans.insert(0, current)
    choices = []
    for plan in plans:
        if current is not None and plan.pk == current.pk:
            direction = "current"
        elif current is None:
            direction = "subscribe"
        elif plan.price_monthly_cents >= current.price_monthly_cents:
            direction = "upgrade"
        else:
            direction = "downgrade"
        choices.append(
            PlanChoice(
                plan=plan,
                is_current=direction == "current",
                direction=direction,
                problems=[]
                if direction == "current"
                else plan_fit_problems(organization=organization, plan=plan),
            )
        )
    return choices


def billing_contacts(*, organization) -> list[str]:
    """Who gets billing emails: owners and billing members."""
    from mailherd.tenancy.models import Role

    return sorted(
        set(
            organization.memberships.filter(role__in=[Role.OWNER, Role.BILLING]).values_list(
                "user__email", flat=True
            )
        )
    )
