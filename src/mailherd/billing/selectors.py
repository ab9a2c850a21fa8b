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


def plan_choices(
    *, organization, subscription: Subscription | None, manual: bool = False
) -> list[PlanChoice]:
    """Every plan on sale (plus the current one), with what switching to it would need.

    Manual billing: the current plan is the organization's (the operator set or approved it).
    """
    live = subscription is not None and subscription.is_live
    current = subscription.plan if live and subscription.plan else None
    if manual:
        current = organization.plan
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


def operator_billing_summary() -> dict:
    """The dashboard's revenue figures, from subscriptions and invoices (both billing modes).

    - MRR: the monthly list price of every paying subscription (active, or past due
      and still being collected); trials and ended subscriptions are not revenue.
    - Past due: accounts with an overdue payment (Stripe says past due / unpaid, or a
      manual invoice past its due date), and what their open invoices still owe.
    """
    from django.db.models import Count, F, Sum

    paying = Subscription.objects.filter(
        status__in=[Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE],
        plan__isnull=False,
        organization__status__in=["active", "suspended"],
    )
    mrr = [
        (row["plan__currency"], row["cents"] or 0)
        for row in paying.values("plan__currency")
        .annotate(cents=Sum("plan__price_monthly_cents"))
        .order_by("plan__currency")
    ]
    overdue = Subscription.objects.filter(
        status__in=[Subscription.Status.PAST_DUE, Subscription.Status.UNPAID]
    )
    owed = (
        Invoice.objects.filter(subscription__in=overdue, status=Invoice.Status.OPEN)
        .values("currency")
        .annotate(cents=Sum(F("amount_due") - F("amount_paid")), n=Count("id"))
        .order_by("currency")
    )
    from mailherd.billing.models import PlanRequest, WebhookEvent

    return {
        "mrr": mrr,
        "past_due_count": overdue.count(),
        "past_due_amount": [(row["currency"], row["cents"] or 0) for row in owed],
        "plan_requests_pending": PlanRequest.objects.filter(
            status=PlanRequest.Status.PENDING
        ).count(),
        "webhook_dead_letters": WebhookEvent.objects.filter(
            status=WebhookEvent.Status.DEAD
        ).count(),
    }


@dataclass(frozen=True)
class SuspensionNotice:
    stage: str  # login_disabled, deactivated, deletion_scheduled, deleted
    by_billing: bool
    title: str
    text: str
    since: object
    next_date: object = None  # when the next stage comes (billing only)
    next_text: str = ""
    action: str = ""  # the link to the billing page (billing only)


def suspension_notice(*, organization) -> SuspensionNotice | None:
    """What the portal's banner says about a suspension: one message per stage, with dates."""
    from mailherd.billing import conf
    from mailherd.tenancy.models import Organization

    if not organization.is_suspended:
        return None
    stage = organization.suspension_stage
    since = organization.suspended_at
    row = Subscription.objects.filter(organization=organization).first()
    by_billing = bool(row and row.suspended_by_billing)
    Stage = Organization.SuspensionStage
    if not by_billing:
        if stage in (Stage.DEACTIVATED, Stage.DELETED):
            return SuspensionNotice(
                stage=stage,
                by_billing=False,
                title="Your provider has deactivated this organization",
                text="Mail to your domains is refused and mailboxes cannot sign in.",
                since=since,
            )
        return SuspensionNotice(
            stage=stage,
            by_billing=False,
            title="Your provider has suspended this organization",
            text="Mailboxes cannot sign in; incoming mail is still received and kept.",
            since=since,
        )
    action = "See the open invoice" if row.manual or stage == Stage.DELETED else "Pay now"
    deletion = None
    if since is not None and stage != Stage.DELETED:
        from mailherd.billing.dunning import deletion_time

        deletion = deletion_time(row=row, organization=organization) or (
            since + conf.delete_after()
        )
    if stage == Stage.LOGIN_DISABLED:
        return SuspensionNotice(
            stage=stage,
            by_billing=True,
            title="Mailboxes are suspended: an invoice is unpaid",
            text="Mailboxes cannot sign in; incoming mail is still received and kept. "
            "Paying the open invoice restores them at once.",
            since=since,
            next_date=since + conf.deactivate_after() if since else None,
            next_text="Without payment, mailboxes and domains will be deactivated and new "
            "mail refused on",
            action=action,
        )
    if stage == Stage.DEACTIVATED:
        # In the warning window (the first deletion warning is due): say so loudly.
        warned = deletion is not None and deletion - _warning_window() <= _now()
        return SuspensionNotice(
            stage="deletion_scheduled" if warned else stage,
            by_billing=True,
            title="Scheduled for deletion: mail data will be deleted"
            if warned
            else "Mail is refused: an invoice is unpaid",
            text="Mailboxes and domains are deactivated: new mail to your domains is refused "
            "(senders get a bounce) and mailboxes cannot sign in. Stored mail is kept until "
            "the deletion date. Paying the open invoice restores everything at once.",
            since=since,
            next_date=deletion,
            next_text="Without payment, all mail data (mailboxes, aliases, domains) will be "
            "deleted on",
            action=action,
        )
    return SuspensionNotice(
        stage=stage,
        by_billing=True,
        title="Mail data deleted: an invoice was not paid",
        text="The retention period is over: mailboxes, aliases and domains were removed from "
        "the mail server. Your organization and its invoices remain; paying the open "
        "invoice reactivates it (empty), and you can add your domains again.",
        since=since,
        action=action,
    )


def _warning_window():
    from datetime import timedelta

    from mailherd.billing import conf

    days = conf.deletion_warning_days()
    return timedelta(days=days[0] if days else 0)


def _now():
    from django.utils import timezone

    return timezone.now()
