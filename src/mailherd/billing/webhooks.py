"""Stripe webhooks: verify, record once, re-read the object from Stripe, apply in one transaction.

The event body is used for three things only: its id (stored once, unique:
a replay is a no-op), its type, and the id of the object it is about.
Everything else is re-read from Stripe at handling time, so events that
arrive late, twice or out of order still leave the current state behind,
and the payload's API version does not matter (localstripe sends
2017-08-15 shapes; the SDK reads current objects with its pinned version).
"""

from __future__ import annotations

import logging
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from mailherd.billing import gateway
from mailherd.billing.models import Subscription, WebhookEvent
from mailherd.billing.sync import remote_state_apply, remote_state_fetch

logger = logging.getLogger(__name__)

# Event types we act on, by the kind of object they carry.
SUBSCRIPTION_EVENTS = {
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.trial_will_end",
}
INVOICE_EVENTS = {
    "invoice.created",
    "invoice.finalized",
    "invoice.updated",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "invoice.voided",
    "invoice.marked_uncollectible",
}
# Refunds, also those made in Stripe's own dashboard.
CHARGE_EVENTS = {"charge.refunded", "charge.refund.updated"}
HANDLED = SUBSCRIPTION_EVENTS | INVOICE_EVENTS | CHARGE_EVENTS

# An event whose handling keeps failing is tried this many times (delivery by Stripe
# and the retry job together), with a growing pause, then kept as a dead letter.
DEFAULT_MAX_ATTEMPTS = 8
RETRY_BASE_SECONDS = 60


def max_attempts() -> int:
    return int(getattr(settings, "BILLING_WEBHOOK_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes after the n-th failed attempt, at most a day."""
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1), 86400))


def webhook_event_receive(*, payload: bytes, signature: str) -> WebhookEvent:
    """Verify and record an event, then handle it unless it was handled before.

    Raise ValueError / stripe.SignatureVerificationError for a forged or
    malformed request (nothing is stored). Return the stored event; its
    status says what happened.
    """
    event = gateway.webhook_event_verify(payload=payload, signature=signature)
    data_object = (event.get("data") or {}).get("object") or {}
    try:
        with transaction.atomic():
            stored = WebhookEvent.objects.create(
                stripe_event_id=event["id"],
                type=event.get("type", ""),
                api_version=event.get("api_version") or "",
                livemode=bool(event.get("livemode")),
                object_id=data_object.get("id", "") if isinstance(data_object, dict) else "",
                payload=event,
            )
    except IntegrityError:  # seen before
        WebhookEvent.objects.filter(stripe_event_id=event["id"]).update(
            duplicates=F("duplicates") + 1
        )
        stored = WebhookEvent.objects.get(stripe_event_id=event["id"])
        if stored.status in (
            WebhookEvent.Status.PROCESSED,
            WebhookEvent.Status.IGNORED,
            WebhookEvent.Status.DEAD,  # given up: only an operator's "Handle again" revives it
        ):
            return stored
    return webhook_event_process(event_id=stored.pk)


def _billing_row_for(event: WebhookEvent) -> tuple[Subscription | None, str]:
    """Find the billing account an event is about, and the subscription id it names (if any)."""
    obj = (event.payload.get("data") or {}).get("object") or {}
    customer = obj.get("customer")
    customer_id = customer if isinstance(customer, str) else (customer or {}).get("id", "")
    hint = ""
    if event.type in SUBSCRIPTION_EVENTS:
        hint = event.object_id
    elif event.type in INVOICE_EVENTS:
        # Re-read the invoice: its current subscription and customer, not the payload's.
        invoice = gateway.invoice_get(event.object_id)
        customer_id, hint = invoice.customer_id, invoice.subscription_id
    if not customer_id and event.type in CHARGE_EVENTS:
        customer_id = obj.get("customer") if isinstance(obj.get("customer"), str) else ""
    row = (
        Subscription.objects.filter(stripe_customer_id=customer_id).first() if customer_id else None
    )
    if row is None and hint:
        row = Subscription.objects.filter(stripe_subscription_id=hint).first()
    return row, hint


def webhook_event_process(*, event_id: int) -> WebhookEvent:
    """Handle one stored event: fetch current state, apply it and mark the event, atomically.

    On error the event is marked failed with the traceback and the error is
    re-raised, so the endpoint answers 500 and Stripe delivers it again; after
    `max_attempts()` tries it becomes a dead letter (listed in the back office)
    and is no longer tried.
    """
    event = WebhookEvent.objects.get(pk=event_id)
    WebhookEvent.objects.filter(pk=event.pk).update(attempts=F("attempts") + 1)
    event.refresh_from_db(fields=["attempts"])
    if event.type not in HANDLED:
        return _mark(event, WebhookEvent.Status.IGNORED, "")
    try:
        if event.type in CHARGE_EVENTS:
            return _charge_event(event)
        row, hint = _billing_row_for(event)
        if row is None:
            return _mark(event, WebhookEvent.Status.IGNORED, "No organization has this customer.")
        state = remote_state_fetch(subscription=row, hint_subscription_id=hint)
        with transaction.atomic(durable=True):
            locked = WebhookEvent.objects.select_for_update().get(pk=event.pk)
            if locked.status == WebhookEvent.Status.PROCESSED:
                return locked  # a concurrent delivery of the same event won
            remote_state_apply(subscription_id=row.pk, state=state)
            locked.status = WebhookEvent.Status.PROCESSED
            locked.handler_error = ""
            locked.processed_at = timezone.now()
            locked.save(update_fields=["status", "handler_error", "processed_at"])
            return locked
    except Exception:
        logger.exception("webhook event %s failed", event.stripe_event_id)
        error = traceback.format_exc(limit=8)
        if event.attempts >= max_attempts():
            _mark(event, WebhookEvent.Status.DEAD, error)
            logger.error(
                "webhook event %s is a dead letter after %s attempts",
                event.stripe_event_id,
                event.attempts,
            )
            return event  # answered 200: Stripe stops delivering it
        _mark(event, WebhookEvent.Status.FAILED, error, retry_at=timezone.now())
        raise


def _charge_event(event: WebhookEvent) -> WebhookEvent:
    from mailherd.billing.services import charge_refunds_mirror

    found = charge_refunds_mirror(charge_id=event.object_id)
    if not found:
        return _mark(event, WebhookEvent.Status.IGNORED, "No invoice has this payment.")
    return _mark(event, WebhookEvent.Status.PROCESSED, "")


def _mark(event: WebhookEvent, status: str, error: str, retry_at=None) -> WebhookEvent:
    next_attempt_at = retry_at + retry_delay(event.attempts) if retry_at else None
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=status,
        handler_error=error,
        processed_at=timezone.now(),
        next_attempt_at=next_attempt_at,
    )
    event.refresh_from_db()
    return event


def webhook_events_retry(*, limit: int = 50, now=None) -> int:
    """Handle failed events whose pause is over (periodic job). Return how many now succeeded."""
    from django.db.models import Q

    now = now or timezone.now()
    due = (
        WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for event_id in list(due):
        try:
            event = webhook_event_process(event_id=event_id)
            if event.status != WebhookEvent.Status.DEAD:
                done += 1
        except Exception:  # recorded on the event; try again after its pause
            logger.info("webhook event %s still failing", event_id)
    return done


def webhook_event_revive(*, actor, event_id: int) -> WebhookEvent:
    """The operator's "Handle again" on a dead letter: a fresh round of attempts, now."""
    from mailherd.core.audit import audit_record

    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        if event.status in (WebhookEvent.Status.DEAD, WebhookEvent.Status.FAILED):
            event.status = WebhookEvent.Status.FAILED
            event.attempts = 0
            event.next_attempt_at = None
            event.save(update_fields=["status", "attempts", "next_attempt_at"])
        audit_record(
            actor=actor,
            action="billing.webhook_event_retry",
            obj=event,
            data={"event": event.stripe_event_id, "type": event.type},
        )
    try:
        return webhook_event_process(event_id=event.pk)
    except Exception:
        event.refresh_from_db()
        return event
