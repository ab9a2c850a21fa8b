"""Manual billing: an operator who invoices by hand, without Stripe (docs/billing.md).

Customers pick (or change) a plan in the portal; that is a *plan request* the
operator approves or declines in the back office. Approval moves the
organization to the plan, with the plan's free trial when it has one (once per
organization). The operator records invoices (amount, due date) and the
payments received. An open invoice past its due date starts the same dunning
episode as a failed card payment (`sync.dunning_begin`): the same emails, the
suspension after the grace period and the later stages, run by the same sweep
(without card retries). Recording the payment ends the episode and restores
mail exactly as a Stripe payment does (`sync.dunning_end`).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from mailherd.billing import conf
from mailherd.billing.errors import DowngradeBlocked, SubscriptionStateError
from mailherd.billing.models import Invoice, PlanRequest, Subscription
from mailherd.billing.notify import notify_after_commit
from mailherd.billing.selectors import plan_fit_problems
from mailherd.billing.sync import dunning_begin, dunning_end
from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import NotFound, PermissionDenied, ValidationFailed
from mailherd.plans.models import Plan
from mailherd.tenancy.locks import organization_lock
from mailherd.tenancy.models import Membership
from mailherd.tenancy.selectors import can_manage_billing


def _operator(actor: Actor) -> None:
    if not actor.user or not actor.user.is_staff:
        raise PermissionDenied("Only the operator can do this.")


def _plan_on_offer(plan_slug: str) -> Plan:
    plan = Plan.objects.filter(slug=plan_slug, is_public=True, is_retired=False).first()
    if plan is None:
        raise NotFound(f"No plan {plan_slug!r} is on offer.", field="plan")
    return plan


def _row_locked(organization_id: int) -> Subscription:
    row, _ = Subscription.objects.get_or_create(organization_id=organization_id)
    return Subscription.objects.select_for_update().get(pk=row.pk)


# -- customers ----------------------------------------------------------------


def plan_request_create(*, actor: Actor, membership: Membership, plan_slug: str) -> PlanRequest:
    """A customer asks for a plan; replaces their own request still waiting, if any."""
    if conf.billing_mode() != "manual":
        raise SubscriptionStateError("Plans are bought online here.")
    if not can_manage_billing(membership):
        raise PermissionDenied("Only owners and billing members can change the plan.")
    plan = _plan_on_offer(plan_slug)
    with transaction.atomic():
        organization = organization_lock(organization_id=membership.organization_id)
        if (
            organization.plan_id == plan.pk
            and not PlanRequest.objects.filter(
                organization=organization, status=PlanRequest.Status.PENDING
            ).exists()
        ):
            raise SubscriptionStateError(f"You are already on the {plan.name} plan.")
        problems = plan_fit_problems(organization=organization, plan=plan)
        if problems:
            raise DowngradeBlocked(
                f"Your organization uses more than the {plan.name} plan allows. "
                + " ".join(problems),
                over=problems,
            )
        PlanRequest.objects.filter(
            organization=organization, status=PlanRequest.Status.PENDING
        ).update(status=PlanRequest.Status.WITHDRAWN, decided_at=timezone.now())
        if organization.plan_id == plan.pk:
            request = None  # asking for the current plan again withdraws the change
        else:
            request = PlanRequest.objects.create(
                organization=organization, plan=plan, requested_by=actor.label[:255]
            )
        audit_record(
            actor=actor,
            action="billing.plan_request",
            organization=organization,
            obj=request or organization,
            data={"plan": plan.slug, "withdrawn": request is None},
        )
    return request


def plan_request_pending(*, organization) -> PlanRequest | None:
    return (
        PlanRequest.objects.select_related("plan")
        .filter(organization=organization, status=PlanRequest.Status.PENDING)
        .first()
    )


# -- operator -----------------------------------------------------------------


def plan_request_approve(
    *, actor: Actor, request_id: int, now: datetime | None = None
) -> Subscription:
    """Move the organization to the requested plan (its trial, once per organization)."""
    from mailherd.hosting.services import organization_limits_changed

    _operator(actor)
    now = now or timezone.now()
    with transaction.atomic():
        request = PlanRequest.objects.select_for_update().get(pk=request_id)
        if request.status != PlanRequest.Status.PENDING:
            raise SubscriptionStateError("This request was already decided.")
        organization = organization_lock(organization_id=request.organization_id)
        plan = request.plan
        problems = plan_fit_problems(organization=organization, plan=plan)
        if problems:
            raise DowngradeBlocked(
                f"{organization.name} uses more than {plan.name} allows: " + "; ".join(problems),
                over=problems,
            )
        row = _row_locked(organization.pk)
        previous = organization.plan.slug
        row.manual = True
        row.plan = plan
        trial = bool(plan.trial_days) and not row.trial_used
        if trial:
            row.status = Subscription.Status.TRIALING
            row.trial_end = now + timedelta(days=plan.trial_days)
            row.trial_used = True
            row.current_period_end = row.trial_end
        elif row.status not in (Subscription.Status.PAST_DUE, Subscription.Status.UNPAID):
            row.status = Subscription.Status.ACTIVE
            row.current_period_end = now + timedelta(days=30)
        row.canceled_at = None
        row.save()
        from mailherd.billing.sync import platform_mailboxes_follow

        platform_mailboxes_follow(row=row, organization=organization, was_live=True)
        request.status = PlanRequest.Status.APPROVED
        request.decided_by = actor.label[:255]
        request.decided_at = now
        request.save(update_fields=["status", "decided_by", "decided_at"])
        if organization.plan_id != plan.pk:
            organization.plan = plan
            organization.save(update_fields=["plan"])
            organization_limits_changed(actor=actor, organization=organization)
        audit_record(
            actor=actor,
            action="billing.plan_request_approve",
            organization=organization,
            obj=request,
            data={"from": previous, "to": plan.slug, "trial": trial},
        )
        notify_after_commit(
            organization=organization,
            template="billing_plan_request_decided",
            context={
                "approved": True,
                "plan_name": plan.name,
                "trial_end": row.trial_end if trial else None,
            },
        )
    return row


def plan_request_decline(*, actor: Actor, request_id: int, note: str = "") -> PlanRequest:
    _operator(actor)
    with transaction.atomic():
        request = PlanRequest.objects.select_for_update().get(pk=request_id)
        if request.status != PlanRequest.Status.PENDING:
            raise SubscriptionStateError("This request was already decided.")
        request.status = PlanRequest.Status.DECLINED
        request.decided_by = actor.label[:255]
        request.decided_at = timezone.now()
        request.note = note[:255]
        request.save(update_fields=["status", "decided_by", "decided_at", "note"])
        audit_record(
            actor=actor,
            action="billing.plan_request_decline",
            organization=request.organization,
            obj=request,
            data={"plan": request.plan.slug, "note": note},
        )
        notify_after_commit(
            organization=request.organization,
            template="billing_plan_request_decided",
            context={"approved": False, "plan_name": request.plan.name, "note": note},
        )
    return request


def manual_invoice_create(
    *,
    actor: Actor,
    organization_id: int,
    amount_cents: int,
    description: str = "",
    due_at: datetime | None = None,
    currency: str = "",
    now: datetime | None = None,
) -> Invoice:
    """Record an invoice the operator sent; open until its payment is recorded."""
    _operator(actor)
    if amount_cents <= 0:
        raise ValidationFailed("The amount must be more than zero.", field="amount")
    now = now or timezone.now()
    with transaction.atomic():
        organization = organization_lock(organization_id=organization_id)
        row = _row_locked(organization.pk)
        if not row.manual:
            row.manual = True
            if row.status == Subscription.Status.NONE:
                row.status = Subscription.Status.ACTIVE
                row.plan = organization.plan
            row.save()
        count = Invoice.objects.filter(manual=True).count() + 1
        for attempt in range(5):
            try:
                with transaction.atomic():
                    invoice = Invoice.objects.create(
                        organization=organization,
                        subscription=row,
                        stripe_invoice_id=f"manual_{uuid.uuid4().hex}",
                        number=f"M-{count + attempt:05d}",
                        status=Invoice.Status.OPEN,
                        currency=(currency or organization.plan.currency).lower(),
                        amount_due=amount_cents,
                        manual=True,
                        description=description[:255]
                        or f"{organization.plan.name} plan, {now:%B %Y}",
                        issued_at=now,
                        period_start=now,
                        period_end=now + timedelta(days=30),
                        due_at=due_at or now + timedelta(days=conf.manual_invoice_due_days()),
                    )
                break
            except IntegrityError:
                continue
        audit_record(
            actor=actor,
            action="billing.manual_invoice_create",
            organization=organization,
            obj=invoice,
            data={
                "number": invoice.number,
                "amount": amount_cents,
                "due": invoice.due_at.isoformat(),
            },
        )
        notify_after_commit(
            organization=organization,
            template="billing_manual_invoice",
            context={
                "invoice_number": invoice.number,
                "invoice_description": invoice.description,
                "invoice_amount": f"{invoice.amount_due / 100:.2f}",
                "invoice_currency": invoice.currency.upper(),
                "due_on": invoice.due_at,
            },
        )
    return invoice


def manual_payment_record(
    *, actor: Actor, invoice_id: int, reference: str = "", now: datetime | None = None
) -> Invoice:
    """The operator received the money: the invoice is paid, and once nothing is overdue the
    dunning episode ends and mail is restored, as after a Stripe payment."""
    _operator(actor)
    now = now or timezone.now()
    with transaction.atomic():
        invoice = Invoice.objects.select_related("organization").get(pk=invoice_id)
        organization = organization_lock(organization_id=invoice.organization_id)
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        if not invoice.manual:
            raise ValidationFailed("Stripe invoices are paid through Stripe.", field="invoice")
        if invoice.status != Invoice.Status.OPEN:
            raise ValidationFailed("Only an open invoice can be marked paid.", field="invoice")
        invoice.status = Invoice.Status.PAID
        invoice.amount_paid = invoice.amount_due
        invoice.paid_at = now
        invoice.payment_reference = reference[:255]
        invoice.save(update_fields=["status", "amount_paid", "paid_at", "payment_reference"])
        audit_record(
            actor=actor,
            action="billing.manual_payment_record",
            organization=organization,
            obj=invoice,
            data={"number": invoice.number, "amount": invoice.amount_due, "reference": reference},
        )
        row = Subscription.objects.select_for_update().get(pk=invoice.subscription_id)
        _manual_state_apply(row=row, organization=organization, now=now)
    return invoice


def manual_invoice_void(*, actor: Actor, invoice_id: int, now: datetime | None = None) -> Invoice:
    """Cancel an invoice sent by mistake (it no longer counts as overdue)."""
    _operator(actor)
    now = now or timezone.now()
    with transaction.atomic():
        invoice = Invoice.objects.get(pk=invoice_id)
        organization = organization_lock(organization_id=invoice.organization_id)
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        if not invoice.manual or invoice.status != Invoice.Status.OPEN:
            raise ValidationFailed("Only an open manual invoice can be voided.", field="invoice")
        invoice.status = Invoice.Status.VOID
        invoice.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action="billing.manual_invoice_void",
            organization=organization,
            obj=invoice,
            data={"number": invoice.number},
        )
        row = Subscription.objects.select_for_update().get(pk=invoice.subscription_id)
        _manual_state_apply(row=row, organization=organization, now=now)
    return invoice


def _overdue(row: Subscription, now: datetime):
    return Invoice.objects.filter(
        subscription=row, manual=True, status=Invoice.Status.OPEN, due_at__lte=now
    )


def _manual_state_apply(*, row: Subscription, organization, now: datetime) -> None:
    """Like sync.remote_state_apply for manual accounts (inside a transaction, org locked)."""
    from mailherd.billing.sync import _restore

    overdue = _overdue(row, now).exists()
    if row.status == Subscription.Status.TRIALING and row.trial_end and row.trial_end <= now:
        row.status = Subscription.Status.ACTIVE
        row.save(update_fields=["status"])
    if overdue and not row.in_dunning:
        row.status = Subscription.Status.PAST_DUE
        row.last_payment_error = "The invoice is past its due date."
        row.save(update_fields=["status", "last_payment_error"])
        audit_record(
            actor=Actor.system(),
            action="billing.subscription_status",
            organization=organization,
            obj=row,
            data={"from": "active", "to": row.status, "manual": True},
        )
        dunning_begin(row=row, organization=organization, now=now)
    elif not overdue:
        if row.status in (Subscription.Status.PAST_DUE, Subscription.Status.UNPAID):
            row.status = Subscription.Status.ACTIVE
            row.save(update_fields=["status"])
        if row.in_dunning:
            dunning_end(row=row, organization=organization, recovered=True)
        elif row.suspended_by_billing:
            _restore(row=row, organization=organization)


def manual_overdue_sweep(*, now: datetime | None = None) -> int:
    """Start dunning for manual accounts with an invoice past due, end trials (periodic).

    Return how many accounts changed. Cheap: reads only open manual invoices past due
    on accounts not in dunning yet, and trials that ended.
    """
    now = now or timezone.now()
    ids = set(
        Invoice.objects.filter(
            manual=True,
            status=Invoice.Status.OPEN,
            due_at__lte=now,
            subscription__dunning_started_at__isnull=True,
        ).values_list("subscription_id", flat=True)
    )
    ids |= set(
        Subscription.objects.filter(
            manual=True, status=Subscription.Status.TRIALING, trial_end__lte=now
        ).values_list("pk", flat=True)
    )
    for subscription_id in ids:
        with transaction.atomic():
            row = Subscription.objects.get(pk=subscription_id)
            organization = organization_lock(organization_id=row.organization_id)
            row = Subscription.objects.select_for_update().get(pk=subscription_id)
            _manual_state_apply(row=row, organization=organization, now=now)
    return len(ids)
