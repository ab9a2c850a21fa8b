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
    *,
    actor: Actor,
    invoice_id: int,
    amount: int | None = None,
    reason: str = "",
    idempotency_key: str = "",
) -> Refund:
    """Refund an invoice fully (amount None) or partly, in cents; recorded on the invoice.

    Refunds once per `idempotency_key` (the refund form's nonce), even when the
    form is submitted twice at the same moment: the invoice row is locked while
    the refund is reserved (a pending row that already counts as refunded), the
    key goes to Stripe as its idempotency key, and a second request with the
    same key gets the first one's refund back. Without a key, one is derived
    from the invoice's refunded total, so a retried call does not refund twice.
    """
    import uuid

    if not actor.user or not actor.user.is_staff:
        raise PermissionDenied("Only the operator can refund.")
    with transaction.atomic(durable=True):
        invoice = Invoice.objects.select_for_update().select_related("organization").get(
            pk=invoice_id
        )
        amount = invoice.refundable if amount is None else amount
        key = idempotency_key or f"inv{invoice.pk}-at{invoice.amount_refunded}-{amount}"
        existing = Refund.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing  # a double submit: the first request made (or is making) it
        if invoice.status != Invoice.Status.PAID or not invoice.stripe_payment_intent_id:
            raise InvalidRefund("Only a paid invoice can be refunded.", field="amount")
        if amount <= 0 or amount > invoice.refundable:
            raise InvalidRefund(
                f"Refund between 0.01 and {invoice.refundable / 100:.2f} "
                f"{invoice.currency.upper()}.",
                field="amount",
            )
        refund = Refund.objects.create(
            invoice=invoice,
            stripe_refund_id=f"pending_{uuid.uuid4().hex}",
            idempotency_key=key,
            amount=amount,
            status="pending",
            reason=reason[:255],
            created_by=actor.label[:255],
        )
        Invoice.objects.filter(pk=invoice.pk).update(
            amount_refunded=F("amount_refunded") + amount
        )
    try:
        remote = gateway.refund_create(
            payment_intent_id=invoice.stripe_payment_intent_id,
            amount=amount,
            invoice_id=invoice.stripe_invoice_id,
            idempotency_key=key,
        )
    except Exception:
        with transaction.atomic(durable=True):  # nothing was refunded: release the reservation
            Invoice.objects.select_for_update().filter(pk=invoice.pk).update(
                amount_refunded=F("amount_refunded") - amount
            )
            Refund.objects.filter(pk=refund.pk, status="pending").delete()
        raise
    with transaction.atomic(durable=True):
        Invoice.objects.select_for_update().get(pk=invoice.pk)
        twin = Refund.objects.filter(stripe_refund_id=remote.id).exclude(pk=refund.pk).first()
        if twin is not None:  # the webhook mirrored it first: keep one row
            twin.delete()
        Refund.objects.filter(pk=refund.pk).update(
            stripe_refund_id=remote.id, status=remote.status or "succeeded", amount=remote.amount
        )
        _refunded_total_set(invoice_id=invoice.pk)
        audit_record(
            actor=actor,
            action="billing.invoice_refund",
            organization=invoice.organization,
            obj=invoice,
            data={"amount": remote.amount, "reason": reason, "refund": remote.id},
        )
    refund.refresh_from_db()
    return refund


def _refunded_total_set(*, invoice_id: int) -> None:
    from django.db.models import Sum

    total = (
        Refund.objects.filter(invoice_id=invoice_id)
        .exclude(status__in=["failed", "canceled"])
        .aggregate(total=Sum("amount"))["total"]
        or 0
    )
    Invoice.objects.filter(pk=invoice_id).update(amount_refunded=total)


def charge_refunds_mirror(*, charge_id: str) -> bool:
    """Mirror a charge's refunds from Stripe (`charge.refunded`): those made in Stripe's
    dashboard appear on the invoice; Mailherd's own are recognised by their key.

    Return False when no invoice has this payment.
    """
    charge = gateway.charge_get(charge_id)
    with transaction.atomic(durable=True):
        invoice = (
            Invoice.objects.select_for_update()
            .select_related("organization")
            .filter(stripe_payment_intent_id=charge.payment_intent_id)
            .first()
            if charge.payment_intent_id
            else None
        )
        if invoice is None and charge.invoice_id:
            invoice = (
                Invoice.objects.select_for_update()
                .select_related("organization")
                .filter(stripe_invoice_id=charge.invoice_id)
                .first()
            )
        if invoice is None:
            return False
        new = []
        for remote in charge.refunds:
            if Refund.objects.filter(stripe_refund_id=remote.id).exists():
                Refund.objects.filter(stripe_refund_id=remote.id).update(status=remote.status)
                continue
            ours = (
                Refund.objects.filter(idempotency_key=remote.key).first() if remote.key else None
            )
            if ours is not None:  # ours, still pending here: the webhook came first
                Refund.objects.filter(pk=ours.pk).update(
                    stripe_refund_id=remote.id, status=remote.status, amount=remote.amount
                )
                continue
            Refund.objects.create(
                invoice=invoice,
                stripe_refund_id=remote.id,
                stripe_charge_id=charge.id,
                amount=remote.amount,
                status=remote.status or "succeeded",
                reason="Refunded in Stripe",
                created_by="Stripe dashboard",
            )
            new.append({"refund": remote.id, "amount": remote.amount})
        _refunded_total_set(invoice_id=invoice.pk)
        if new:
            audit_record(
                actor=Actor.system(),
                action="billing.refund_mirror",
                organization=invoice.organization,
                obj=invoice,
                data={"refunds": new, "charge": charge.id},
            )
    return True


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


def plan_stripe_price_update(*, actor: Actor, plan: Plan) -> Plan:
    """After a price edit: give a linked plan a new Stripe price at its current amount.

    Stripe prices cannot change; new subscriptions (and plan changes) use the
    new one, existing subscriptions keep the price they have until they are
    changed (the sync still maps them to this plan through the price's metadata).
    Nothing happens when the plan is not linked or its price already matches.
    """
    plan.refresh_from_db()
    if not plan.stripe_price_id or not plan.stripe_product_id:
        return plan
    current = gateway.price_amount(plan.stripe_price_id)
    if current == plan.price_monthly_cents:
        return plan
    price_id = gateway.price_create(
        product_id=plan.stripe_product_id,
        slug=plan.slug,
        amount_cents=plan.price_monthly_cents,
        currency=plan.currency,
    )
    with transaction.atomic():
        previous = plan.stripe_price_id
        Plan.objects.filter(pk=plan.pk).update(stripe_price_id=price_id)
        audit_record(
            actor=actor,
            action="billing.plan_price_new",
            obj=plan,
            data={"from": previous, "to": price_id, "amount": plan.price_monthly_cents},
        )
    plan.refresh_from_db()
    return plan


def operator_plan_change(
    *, actor: Actor, organization_id: int, plan_id: int, proration: str = "create_prorations"
):
    """The back office's plan change. With a live Stripe subscription, the subscription moves
    to the plan's price first (`proration` as the operator chose), so that Stripe charges the
    new price and the next sync agrees; otherwise the plan is set directly (manual billing
    keeps its subscription row in step).
    """
    from mailherd.operator.errors import PlanChangeRefused
    from mailherd.operator.services import organization_plan_change
    from mailherd.tenancy.models import Organization

    organization = Organization.objects.select_related("plan").get(pk=organization_id)
    plan = Plan.objects.filter(pk=plan_id).first()
    if plan is None:
        raise NotFound("No such plan.", field="plan")
    row = Subscription.objects.filter(organization=organization).first()
    stripe_live = (
        row is not None and not row.manual and row.is_live and bool(row.stripe_subscription_id)
    )
    if not stripe_live:
        organization = organization_plan_change(
            actor=actor, organization_id=organization.pk, plan_id=plan.pk
        )
        if row is not None and row.manual and row.plan_id != plan.pk:
            Subscription.objects.filter(pk=row.pk).update(plan=plan)
        return organization
    if not conf.billing_enabled():
        raise BillingDisabled()
    if plan.pk == organization.plan_id and row.plan_id == plan.pk:
        return organization
    if not plan.stripe_price_id:
        raise PlanChangeRefused(
            f"{plan.name} has no Stripe price yet: use “Create in Stripe” on the plan first.",
            field="plan",
        )
    problems = plan_fit_problems(organization=organization, plan=plan)
    if problems:
        raise PlanChangeRefused(
            f"{organization.name} uses more than {plan.name} allows: " + "; ".join(problems) + ".",
            field="plan",
            problems=problems,
        )
    remote = gateway.subscription_get(row.stripe_subscription_id)
    gateway.subscription_change_price(
        subscription=remote, price_id=plan.stripe_price_id, proration=proration
    )
    audit_record(
        actor=actor,
        action="billing.plan_change",
        organization=organization,
        obj=row,
        data={
            "from": row.plan.slug if row.plan else None,
            "to": plan.slug,
            "proration": proration,
            "by": "operator",
        },
    )
    error = ""
    if proration == "always_invoice" and row.status != Subscription.Status.TRIALING:
        # localstripe leaves the proration pending: invoice it now, as Stripe would.
        invoice = gateway.invoice_create_for_subscription(
            customer_id=row.stripe_customer_id, subscription_id=row.stripe_subscription_id
        )
        if invoice is not None and invoice.status in ("draft", "open"):
            error = gateway.invoice_pay(invoice.id).error
    row = _apply(row)
    if error:
        Subscription.objects.filter(pk=row.pk).update(last_payment_error=error[:255])
    organization.refresh_from_db()
    return organization


SETTINGS_FIELDS = (
    "retry_days",
    "grace_days",
    "reminder_day",
    "final_notice_day",
    "deactivate_days",
    "delete_days",
    "deletion_warning_days",
    "manual_invoice_due_days",
)


def billing_settings_update(*, actor: Actor, values: dict):
    """Save the back office's billing knobs (blank: the environment's default), audited.

    Subscriptions in an episode are rescheduled so the new days apply to them.
    """
    from mailherd.billing.models import BillingSettings
    from mailherd.core.errors import ValidationFailed

    if not actor.user or not actor.user.is_staff:
        raise PermissionDenied("Only the operator can change billing settings.")
    for field in ("retry_days", "deletion_warning_days"):
        text = values.get(field) or ""
        try:
            days = conf.parse_days(text)
        except ValueError as exc:
            raise ValidationFailed(
                f"Days as numbers separated by commas ({exc}).", field=field
            ) from exc
        values[field] = ", ".join(str(d) for d in days)
    with transaction.atomic():
        row, _ = BillingSettings.objects.select_for_update().get_or_create(pk=1)
        before = {f: getattr(row, f) for f in SETTINGS_FIELDS}
        for field in SETTINGS_FIELDS:
            if field in values:
                setattr(row, field, values[field] if values[field] != "" else None)
        for field in ("retry_days", "deletion_warning_days"):
            if getattr(row, field) is None:
                setattr(row, field, "")
        row.save()
        after = {f: getattr(row, f) for f in SETTINGS_FIELDS}
        changed = {f: [before[f], after[f]] for f in SETTINGS_FIELDS if before[f] != after[f]}
        if changed:
            audit_record(actor=actor, action="billing.settings_update", obj=row, data=changed)
        # The sweep looks at every scheduled account again and plans it with the new days.
        Subscription.objects.filter(next_dunning_at__gt=timezone.now()).update(
            next_dunning_at=timezone.now()
        )
    return row


class CardNeeded(SubscriptionStateError):
    code = "card_needed"
    default_message = "Add a card in the portal's billing page first; then the plan can start."


def plan_choose(*, actor: Actor, membership: Membership, plan_slug: str):
    """What "choose this plan" means now, in one place for the portal and the API.

    Returns (outcome, object): ("requested", PlanRequest) or ("withdrawn", None) with manual
    billing (the operator approves); ("changed", Subscription) for a live subscription;
    ("started", Subscription) with a saved card. Raises CardNeeded without a card.
    """
    from mailherd.billing.selectors import subscription_get

    if conf.billing_mode() == "manual":
        from mailherd.billing.manual import plan_request_create

        request = plan_request_create(actor=actor, membership=membership, plan_slug=plan_slug)
        return ("requested", request) if request is not None else ("withdrawn", None)
    subscription = subscription_get(organization=membership.organization)
    if subscription is not None and subscription.is_live:
        return "changed", subscription_change_plan(
            actor=actor, membership=membership, plan_slug=plan_slug
        )
    if subscription is None or not subscription.has_card:
        _require(membership)
        _plan_for_sale(plan_slug)
        raise CardNeeded()
    return "started", subscription_start(actor=actor, membership=membership, plan_slug=plan_slug)
