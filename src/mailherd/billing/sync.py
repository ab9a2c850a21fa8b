"""Re-read an organization's subscription and invoices from Stripe and apply what changed.

This is the one place where Stripe state becomes Mailherd state, whoever
asks: a webhook (of any type, in any order), the result of a payment we
attempted ourselves, or the periodic sync. Because it always re-reads the
*current* objects from Stripe instead of trusting an event's payload, a late,
repeated or missing event cannot leave a wrong state behind.

Steps (see docs/billing.md):
1. fetch the subscription and recent invoices (network, no transaction);
2. in one transaction, with the organization row locked: mirror them,
   move the organization to the subscription's plan, and run the
   state transitions (start or end dunning, suspend on an ended
   subscription, restore on recovery);
3. after commit: send the emails those transitions call for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from mailherd.billing import gateway
from mailherd.billing.gateway import RemoteInvoice, RemoteSubscription
from mailherd.billing.models import DunningNotice, Invoice, Subscription
from mailherd.billing.notify import notify_after_commit
from mailherd.billing.selectors import plan_for_stripe_price
from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.hosting.services import organization_limits_changed
from mailherd.tenancy.locks import organization_lock

logger = logging.getLogger(__name__)

ENDED = {Subscription.Status.CANCELED, Subscription.Status.INCOMPLETE_EXPIRED}
OVERDUE = {Subscription.Status.PAST_DUE, Subscription.Status.UNPAID}
GOOD = {Subscription.Status.ACTIVE, Subscription.Status.TRIALING}


@dataclass(frozen=True)
class RemoteState:
    subscription: RemoteSubscription | None
    invoices: list[RemoteInvoice]


def remote_state_fetch(
    *, subscription: Subscription, hint_subscription_id: str = ""
) -> RemoteState:
    """Read the current Stripe state of this billing account (network; call outside transactions).

    `hint_subscription_id` is the subscription an event was about. It replaces the
    account's current one only if that one is missing or ended while the hinted one
    is not: a late event about an old, canceled subscription never wins.
    """
    remote = None
    if subscription.stripe_subscription_id:
        remote = gateway.subscription_get(subscription.stripe_subscription_id)
    if hint_subscription_id and hint_subscription_id != subscription.stripe_subscription_id:
        other = gateway.subscription_get(hint_subscription_id)
        if other.customer_id == subscription.stripe_customer_id and (
            remote is None or (remote.status in ENDED and other.status not in ENDED)
        ):
            remote = other
    invoices = (
        gateway.invoice_list(customer_id=subscription.stripe_customer_id)
        if subscription.stripe_customer_id
        else []
    )
    return RemoteState(subscription=remote, invoices=invoices)


def subscription_sync(
    *, subscription_id: int, hint_subscription_id: str = "", now: datetime | None = None
) -> Subscription:
    """Fetch and apply the current Stripe state of one billing account."""
    row = Subscription.objects.get(pk=subscription_id)
    state = remote_state_fetch(subscription=row, hint_subscription_id=hint_subscription_id)
    with transaction.atomic():
        return remote_state_apply(subscription_id=row.pk, state=state, now=now)


def remote_state_apply(
    *, subscription_id: int, state: RemoteState, now: datetime | None = None
) -> Subscription:
    """Apply fetched Stripe state; must run inside a transaction (locks org, then the row)."""
    now = now or timezone.now()
    actor = Actor.system()
    row = Subscription.objects.get(pk=subscription_id)
    organization = organization_lock(organization_id=row.organization_id)
    row = Subscription.objects.select_for_update().get(pk=subscription_id)
    was_live = row.is_live
    remote = state.subscription

    if remote is not None:
        old_status = row.status
        row.stripe_subscription_id = remote.id
        row.status = remote.status if remote.status in Subscription.Status.values else row.status
        row.cancel_at_period_end = remote.cancel_at_period_end
        row.current_period_end = remote.current_period_end
        row.trial_end = remote.trial_end
        row.canceled_at = remote.canceled_at
        if remote.status == Subscription.Status.TRIALING:
            row.trial_used = True
        plan = plan_for_stripe_price(price_id=remote.price_id, metadata=remote.price_metadata)
        if plan is not None:
            row.plan = plan
        elif remote.price_id:
            logger.warning("subscription %s uses unknown price %s", remote.id, remote.price_id)
        if old_status != row.status:
            audit_record(
                actor=actor,
                action="billing.subscription_status",
                organization=organization,
                obj=row,
                data={"from": old_status, "to": row.status},
            )
        # The organization's plan (and so its limits) follows a live subscription.
        if row.is_live and plan is not None and organization.plan_id != plan.pk:
            old_plan = organization.plan.slug
            organization.plan = plan
            organization.save(update_fields=["plan"])
            # Mailcow's per-domain limits follow the plan.
            organization_limits_changed(actor=actor, organization=organization)
            audit_record(
                actor=actor,
                action="organization.plan_change",
                organization=organization,
                obj=organization,
                data={"from": old_plan, "to": plan.slug, "subscription": remote.id},
            )

    for remote_invoice in state.invoices:
        _invoice_mirror(row=row, remote=remote_invoice)
    row.synced_at = now
    row.save()

    open_invoices = Invoice.objects.filter(
        subscription=row,
        status=Invoice.Status.OPEN,
        stripe_subscription_id=row.stripe_subscription_id,
    ).exists()
    if row.status in OVERDUE and not row.in_dunning:
        dunning_begin(row=row, organization=organization, now=now)
    elif row.in_dunning and (row.status in GOOD and not open_invoices or row.status in ENDED):
        dunning_end(row=row, organization=organization, recovered=row.status in GOOD)
    if row.status in ENDED and was_live:
        _suspend(
            row=row,
            organization=organization,
            reason="subscription ended",
            notice="billing_subscription_ended",
            now=now,
        )
    elif row.status in GOOD and not open_invoices and row.suspended_by_billing:
        _restore(row=row, organization=organization)
    platform_mailboxes_follow(row=row, organization=organization, was_live=was_live, now=now)
    return row


def platform_mailboxes_follow(*, row: Subscription, organization, was_live: bool, now=None) -> None:
    """Members' platform addresses follow the subscription: given while live, released when it ends."""
    from mailherd.hosting.services.platform import (
        platform_mailboxes_ensure,
        platform_mailboxes_release,
    )

    if row.is_live:
        platform_mailboxes_ensure(organization=organization)
    elif was_live and row.status in ENDED:
        platform_mailboxes_release(organization=organization, reason="subscription_ended", now=now)


def _invoice_mirror(*, row: Subscription, remote: RemoteInvoice) -> Invoice:
    invoice, _created = Invoice.objects.update_or_create(
        stripe_invoice_id=remote.id,
        defaults={
            "organization_id": row.organization_id,
            "subscription": row,
            "stripe_subscription_id": remote.subscription_id,
            "number": remote.number,
            "status": remote.status or Invoice.Status.OPEN,
            "currency": remote.currency,
            "amount_due": remote.amount_due,
            "amount_paid": remote.amount_paid,
            "attempt_count": remote.attempt_count,
            "period_start": remote.period_start,
            "period_end": remote.period_end,
            "hosted_invoice_url": remote.hosted_invoice_url,
            "invoice_pdf": remote.invoice_pdf,
            "stripe_payment_intent_id": remote.payment_intent_id,
            "issued_at": remote.created,
        },
    )
    return invoice


# -- transitions (inside the caller's transaction, organization locked) -------


def dunning_begin(*, row: Subscription, organization, now: datetime) -> None:
    """A payment failed: the account is past due; email at once, retry on the schedule."""
    from mailherd.billing.dunning import next_dunning_time

    row.dunning_started_at = now
    row.dunning_retries = 0
    row.save(update_fields=["dunning_started_at", "dunning_retries"])
    audit_record(
        actor=Actor.system(), action="billing.dunning_start", organization=organization, obj=row
    )
    notice_send_once(row=row, kind="billing_payment_failed")
    from mailherd.webhooks.payloads import organization_data
    from mailherd.webhooks.services import event_emit

    event_emit(
        organization=organization,
        event_type="payment.failed",
        data=organization_data(organization, error=row.last_payment_error or ""),
        object_key=f"organization:{organization.pk}",
    )
    row.next_dunning_at = next_dunning_time(row=row, now=now)
    row.save(update_fields=["next_dunning_at"])


def dunning_end(*, row: Subscription, organization, recovered: bool) -> None:
    row.dunning_started_at = None
    row.dunning_retries = 0
    row.next_dunning_at = None
    row.last_payment_error = ""
    row.save(
        update_fields=[
            "dunning_started_at",
            "dunning_retries",
            "next_dunning_at",
            "last_payment_error",
        ]
    )
    audit_record(
        actor=Actor.system(),
        action="billing.dunning_end",
        organization=organization,
        obj=row,
        data={"recovered": recovered},
    )
    if recovered:
        _restore(row=row, organization=organization, always_notify=True)


def _suspend(
    *, row: Subscription, organization, reason: str, notice: str, now: datetime | None = None
) -> None:
    """Stage 1 of a billing suspension; the sweep then runs the later stages (dunning.py)."""
    from mailherd.billing.dunning import next_dunning_time
    from mailherd.hosting.services import organization_mail_suspend

    now = now or timezone.now()
    if row.suspended_by_billing:
        if row.next_dunning_at is None:  # e.g. an episode ended by cancellation: keep the stages going
            row.next_dunning_at = next_dunning_time(row=row, now=now)
            row.save(update_fields=["next_dunning_at"])
        return
    if organization.is_suspended:
        return  # suspended by the operator for another reason: not ours to manage
    organization_mail_suspend(
        actor=Actor.system(), organization_id=organization.pk, reason=reason, now=now
    )
    row.suspended_by_billing = True
    row.save(update_fields=["suspended_by_billing"])
    organization.refresh_from_db(fields=["status", "suspension_stage", "suspended_at"])
    notice_send_once(row=row, kind=notice)
    # The sweep must come back for deactivation and deletion, in or out of an episode.
    row.next_dunning_at = next_dunning_time(row=row, now=now)
    row.save(update_fields=["next_dunning_at"])


def _restore(*, row: Subscription, organization, always_notify: bool = False) -> None:
    from mailherd.hosting.services import organization_mail_restore

    was_suspended = row.suspended_by_billing
    if was_suspended:
        organization_mail_restore(actor=Actor.system(), organization_id=organization.pk)
        row.suspended_by_billing = False
        if not row.in_dunning:
            row.next_dunning_at = None  # no later suspension stage to wait for
        row.save(update_fields=["suspended_by_billing", "next_dunning_at"])
        organization.refresh_from_db(fields=["status", "suspension_stage", "suspended_at"])
    if was_suspended or always_notify:
        notify_after_commit(
            organization=organization,
            template="billing_restored",
            context={"was_suspended": was_suspended},
        )


def notice_send_once(
    *,
    row: Subscription,
    kind: str,
    episode: datetime | None = None,
    template: str = "",
    context: dict | None = None,
    now: datetime | None = None,
) -> bool:
    """Claim notice `kind` for the current overdue episode and email it after commit.

    Return True if this call claimed it (False: it was sent before, never twice).
    Outside an episode (e.g. a subscription that ended) the episode key is the
    end of the subscription, so that one is sent once too. The suspension stages
    pass their own `episode` (the suspension's start), a `template` shared by
    several kinds, and `now`, recorded as when the notice went out.
    """
    episode = episode or (
        row.dunning_started_at or row.canceled_at or row.current_period_end or row.created_at
    )
    with transaction.atomic():  # savepoint: a lost race must not poison the caller's transaction
        notice, created = DunningNotice.objects.get_or_create(
            subscription=row, episode_started_at=episode, kind=kind
        )
        if created and now is not None:
            DunningNotice.objects.filter(pk=notice.pk).update(created_at=now)
    if created:
        notify_after_commit(
            organization=row.organization, template=template or kind, context=context
        )
    return created
