"""Billing writes: cards, the subscription lifecycle, refunds, and linking plans to Stripe.

Every service calls Stripe first (no transaction open, no lock held), then
applies the result through `sync.remote_state_apply` in one transaction, so
the outcome of every payment attempt Mailherd makes is acted on at once,
whether or not a webhook ever follows. Design notes: docs/billing.md.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from mailherd.billing import conf, gateway
from mailherd.billing.errors import (
    BillingDisabled,
    DowngradeBlocked,
    InvalidRefund,
    NoPaymentMethod,
    PaymentDeclined,
    PlanNotPurchasable,
    SubscriptionStateError,
)
from mailherd.billing.models import Invoice, Refund, Subscription
from mailherd.billing.selectors import billing_contacts, invoice_list_open, plan_fit_problems
from mailherd.billing.sync import remote_state_apply, remote_state_fetch, subscription_sync
from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import NotFound, PermissionDenied
from mailherd.plans.models import Plan
from mailherd.tenancy.models import Membership
from mailherd.tenancy.selectors import can_manage_billing


def _require(membership: Membership) -> None:
    if not conf.billing_enabled():
        raise BillingDisabled()
    if not can_manage_billing(membership):
        raise PermissionDenied("Only owners and billing members can change billing.")


def _row(organization) -> Subscription:
    row, _ = Subscription.objects.get_or_create(organization=organization)
    return row


def _apply(row: Subscription, *, hint: str = "") -> Subscription:
    state = remote_state_fetch(subscription=row, hint_subscription_id=hint)
    with transaction.atomic(durable=True):
        return remote_state_apply(subscription_id=row.pk, state=state)


# -- customer and card --------------------------------------------------------


def billing_customer_ensure(*, actor: Actor, organization) -> Subscription:
    """Return the organization's billing row, creating its Stripe customer on first use."""
    row = _row(organization)
    if row.stripe_customer_id:
        return row
    contacts = billing_contacts(organization=organization)
    customer_id = gateway.customer_create(
        email=contacts[0] if contacts else "",
        name=organization.name,
        organization_id=organization.pk,
    )
    with transaction.atomic(durable=True):
        updated = Subscription.objects.filter(pk=row.pk, stripe_customer_id="").update(
            stripe_customer_id=customer_id
        )
        if updated:
            audit_record(
                actor=actor, action="billing.customer_create", organization=organization, obj=row
            )
    row.refresh_from_db()
    return row


def card_setup_start(*, actor: Actor, membership: Membership) -> str:
    """Start saving a card (Stripe Elements + SetupIntent); return the intent's client secret."""
    _require(membership)
    row = billing_customer_ensure(actor=actor, organization=membership.organization)
    _intent_id, client_secret = gateway.setup_intent_create(customer_id=row.stripe_customer_id)
    return client_secret


def card_update(*, actor: Actor, membership: Membership, setup_intent_id: str) -> Subscription:
    """Make the card saved by a SetupIntent the default; retry an overdue payment at once.

    Return the billing row; raise PaymentDeclined if an overdue invoice still fails.
    """
    _require(membership)
    organization = membership.organization
    row = billing_customer_ensure(actor=actor, organization=organization)
    payment_method_id = gateway.setup_intent_payment_method(
        setup_intent_id=setup_intent_id, customer_id=row.stripe_customer_id
    )
    card = gateway.card_set_default(
        customer_id=row.stripe_customer_id, payment_method_id=payment_method_id
    )
    with transaction.atomic(durable=True):
        Subscription.objects.filter(pk=row.pk).update(
            stripe_payment_method_id=card.payment_method_id,
            card_brand=card.brand,
            card_last4=card.last4,
            card_exp_month=card.exp_month,
            card_exp_year=card.exp_year,
        )
        audit_record(
            actor=actor,
            action="billing.card_update",
            organization=organization,
            obj=row,
            data={"brand": card.brand, "last4": card.last4},
        )
    row.refresh_from_db()
    if row.stripe_subscription_id and invoice_list_open(subscription=row).exists():
        row = open_invoices_pay(actor=actor, subscription=row)
    return row


def open_invoices_pay(*, actor: Actor, subscription: Subscription) -> Subscription:
    """Pay the subscription's open invoices now (oldest first) and act on the result."""
    error = ""
    for invoice in invoice_list_open(subscription=subscription):
        attempt = gateway.invoice_pay(invoice.stripe_invoice_id)
        if not attempt.paid:
            error = attempt.error
            break
    row = _apply(subscription)
    audit_record(
        actor=actor,
        action="billing.invoice_pay",
        organization=row.organization,
        obj=row,
        data={"ok": not error, "error": error},
    )
    if error:
        Subscription.objects.filter(pk=row.pk).update(last_payment_error=error[:255])
        raise PaymentDeclined(f"The payment failed: {error} Try another card.")
    return row


# -- lifecycle ----------------------------------------------------------------


def _plan_for_sale(plan_slug: str) -> Plan:
    plan = Plan.objects.filter(slug=plan_slug).first()
    if plan is None:
        raise NotFound(f"No plan {plan_slug!r}.", field="plan")
    if plan.is_retired or not plan.stripe_price_id:
        raise PlanNotPurchasable(f"The {plan.name} plan cannot be bought online.", field="plan")
    return plan


def _check_fits(*, organization, plan: Plan) -> None:
    problems = plan_fit_problems(organization=organization, plan=plan)
    if problems:
        raise DowngradeBlocked(
            f"Your organization uses more than the {plan.name} plan allows. " + " ".join(problems),
            over=problems,
        )


def subscription_start(*, actor: Actor, membership: Membership, plan_slug: str) -> Subscription:
    """Subscribe (or reactivate after cancellation) with the saved card.

    A plan's free trial is given once per organization. Raise PaymentDeclined
    when the first payment fails (the subscription then waits for a new card).
    """
    _require(membership)
    organization = membership.organization
    plan = _plan_for_sale(plan_slug)
    row = billing_customer_ensure(actor=actor, organization=organization)
    if row.is_live:
        raise SubscriptionStateError("There is already a subscription; change its plan instead.")
    if not row.has_card:
        raise NoPaymentMethod()
    _check_fits(organization=organization, plan=plan)
    if row.status == Subscription.Status.INCOMPLETE and row.stripe_subscription_id:
        gateway.subscription_cancel_now(row.stripe_subscription_id)  # replace the unpaid attempt
    trial_end = None
    if plan.trial_days and not row.trial_used:
        trial_end = timezone.now() + timedelta(days=plan.trial_days)
    remote = gateway.subscription_create(
        customer_id=row.stripe_customer_id,
        price_id=plan.stripe_price_id,
        trial_end=trial_end,
        organization_id=organization.pk,
    )
    reactivated = row.status == Subscription.Status.CANCELED
    with transaction.atomic(durable=True):
        Subscription.objects.filter(pk=row.pk).update(stripe_subscription_id=remote.id)
        audit_record(
            actor=actor,
            action="billing.subscription_reactivate"
            if reactivated
            else "billing.subscription_start",
            organization=organization,
            obj=row,
            data={"plan": plan.slug, "trial": trial_end is not None},
        )
    row.refresh_from_db()
    row = _apply(row)
    if row.status == Subscription.Status.INCOMPLETE:
        raise PaymentDeclined("The first payment was declined. Try another card.")
    return row


def subscription_reactivate(*, actor: Actor, membership: Membership) -> Subscription:
    """Start a new subscription on the previous plan after the old one ended (no new trial)."""
    row = _row(membership.organization)
    if row.status != Subscription.Status.CANCELED or row.plan is None:
        raise SubscriptionStateError("Only an ended subscription can be reactivated.")
    return subscription_start(actor=actor, membership=membership, plan_slug=row.plan.slug)


def subscription_change_plan(
    *, actor: Actor, membership: Membership, plan_slug: str
) -> Subscription:
    """Move a live subscription to another plan, prorated.

    Downgrades are refused with the list of what to remove when the
    organization uses more than the target plan allows. An upgrade's prorated
    difference is invoiced and charged at once; a downgrade's credit goes to
    the next invoice.
    """
    _require(membership)
    organization = membership.organization
    plan = _plan_for_sale(plan_slug)
    row = _row(organization)
    if not row.is_live or not row.stripe_subscription_id:
        raise SubscriptionStateError("There is no active subscription to change.")
    if row.plan_id == plan.pk:
        raise SubscriptionStateError(f"You are already on the {plan.name} plan.")
    _check_fits(organization=organization, plan=plan)
    upgrade = row.plan is None or plan.price_monthly_cents > row.plan.price_monthly_cents
    remote = gateway.subscription_get(row.stripe_subscription_id)
    gateway.subscription_change_price(subscription=remote, price_id=plan.stripe_price_id)
    audit_record(
        actor=actor,
        action="billing.plan_change",
        organization=organization,
        obj=row,
        data={"from": row.plan.slug if row.plan else None, "to": plan.slug, "upgrade": upgrade},
    )
    error = ""
    if upgrade and row.status != Subscription.Status.TRIALING:
        invoice = gateway.invoice_create_for_subscription(
            customer_id=row.stripe_customer_id, subscription_id=row.stripe_subscription_id
        )
        if invoice is not None and invoice.status in ("draft", "open"):
            attempt = gateway.invoice_pay(invoice.id)
            error = attempt.error
    row = _apply(row)
    if error:
        raise PaymentDeclined(
            f"You are now on {plan.name}, but the prorated payment failed: {error}"
            " Update your card to avoid an interruption."
        )
    return row


def _set_cancel_at_period_end(
    *, actor: Actor, membership: Membership, cancel: bool
) -> Subscription:
    _require(membership)
    row = _row(membership.organization)
    if not row.is_live or not row.stripe_subscription_id:
        raise SubscriptionStateError("There is no active subscription.")
    if row.cancel_at_period_end == cancel:
        return row
    gateway.subscription_set_cancel_at_period_end(
        subscription_id=row.stripe_subscription_id, cancel=cancel
    )
    audit_record(
        actor=actor,
        action="billing.subscription_cancel" if cancel else "billing.subscription_resume",
        organization=membership.organization,
        obj=row,
    )
    return _apply(row)


def subscription_cancel(*, actor: Actor, membership: Membership) -> Subscription:
    """Cancel at the end of the paid period; service continues until then."""
    return _set_cancel_at_period_end(actor=actor, membership=membership, cancel=True)


def subscription_resume(*, actor: Actor, membership: Membership) -> Subscription:
    """Undo a cancellation before the period ends."""
    return _set_cancel_at_period_end(actor=actor, membership=membership, cancel=False)


def subscription_pay_now(*, actor: Actor, membership: Membership) -> Subscription:
    """The customer's "Pay now" button: charge the open invoices with the saved card."""
    _require(membership)
    row = _row(membership.organization)
    if not invoice_list_open(subscription=row).exists():
        raise SubscriptionStateError("Nothing is due.")
    return open_invoices_pay(actor=actor, subscription=row)


def billing_sync(*, subscription_id: int) -> Subscription:
    """Re-read one account from Stripe (periodic job, back office button)."""
    return subscription_sync(subscription_id=subscription_id)


# -- back office --------------------------------------------------------------


def invoice_refund(
    *, actor: Actor, invoice_id: int, amount: int | None = None, reason: str = ""
) -> Refund:
    """Refund an invoice fully (amount None) or partly, in cents; recorded on the invoice."""
    if not actor.user or not actor.user.is_staff:
        raise PermissionDenied("Only the operator can refund.")
    invoice = Invoice.objects.get(pk=invoice_id)
    amount = invoice.refundable if amount is None else amount
    if invoice.status != Invoice.Status.PAID or not invoice.stripe_payment_intent_id:
        raise InvalidRefund("Only a paid invoice can be refunded.", field="amount")
    if amount <= 0 or amount > invoice.refundable:
        raise InvalidRefund(
            f"Refund between 0.01 and {invoice.refundable / 100:.2f} {invoice.currency.upper()}.",
            field="amount",
        )
    remote = gateway.refund_create(
        payment_intent_id=invoice.stripe_payment_intent_id,
        amount=amount,
        invoice_id=invoice.stripe_invoice_id,
    )
    with transaction.atomic(durable=True):
        refund = Refund.objects.create(
            invoice=invoice,
            stripe_refund_id=remote.id,
            amount=remote.amount,
            status=remote.status,
            reason=reason[:255],
            created_by=actor.label[:255],
        )
        Invoice.objects.filter(pk=invoice.pk).update(
            amount_refunded=F("amount_refunded") + remote.amount
        )
        audit_record(
            actor=actor,
            action="billing.invoice_refund",
            organization=invoice.organization,
            obj=invoice,
            data={"amount": remote.amount, "reason": reason, "refund": remote.id},
        )
    return refund


def plan_stripe_link(*, actor: Actor, plan: Plan) -> Plan:
    """Create the plan's Stripe product and monthly price (legacy Plan on localstripe) if missing."""
    if plan.stripe_price_id:
        return plan
    product_id, price_id = gateway.product_and_price_create(
        name=plan.name,
        slug=plan.slug,
        amount_cents=plan.price_monthly_cents,
        currency=plan.currency,
    )
    with transaction.atomic(durable=True):
        Plan.objects.filter(pk=plan.pk).update(
            stripe_product_id=product_id, stripe_price_id=price_id
        )
        audit_record(actor=actor, action="billing.plan_link", obj=plan, data={"price": price_id})
    plan.refresh_from_db()
    return plan
