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
        if stored.status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED):
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
    row = (
        Subscription.objects.filter(stripe_customer_id=customer_id).first() if customer_id else None
    )
    if row is None and hint:
        row = Subscription.objects.filter(stripe_subscription_id=hint).first()
    return row, hint


def webhook_event_process(*, event_id: int) -> WebhookEvent:
    """Handle one stored event: fetch current state, apply it and mark the event, atomically.

    On error the event is marked failed with the traceback and the error is
    re-raised, so the endpoint answers 500 and Stripe delivers it again.
    """
    event = WebhookEvent.objects.get(pk=event_id)
    WebhookEvent.objects.filter(pk=event.pk).update(attempts=F("attempts") + 1)
    if event.type not in SUBSCRIPTION_EVENTS | INVOICE_EVENTS:
        return _mark(event, WebhookEvent.Status.IGNORED, "")
    try:
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
        _mark(event, WebhookEvent.Status.FAILED, traceback.format_exc(limit=8))
        raise


def _mark(event: WebhookEvent, status: str, error: str) -> WebhookEvent:
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=status, handler_error=error, processed_at=timezone.now()
    )
    event.refresh_from_db()
    return event


def webhook_events_retry(*, limit: int = 50) -> int:
    """Handle events that failed before (periodic job). Return how many now succeeded."""
    done = 0
    for event_id in WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED).values_list(
        "pk", flat=True
    )[:limit]:
        try:
            webhook_event_process(event_id=event_id)
            done += 1
        except Exception:  # recorded on the event; try again next time
            logger.info("webhook event %s still failing", event_id)
    return done
