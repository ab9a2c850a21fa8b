"""The webhook worker: sends due deliveries, signed, in order per object, with retries for a day."""

import json
import logging
import time
from datetime import UTC, datetime, timedelta

import httpx
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from mailherd.core.errors import MailherdError
from mailherd.core.netguard import guarded_client
from mailherd.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

# Wait after the 1st, 2nd, … failed attempt (as Standard Webhooks senders do): ~27 hours in all.
RETRY_SCHEDULE = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
]
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
DISABLE_AFTER = timedelta(days=1)  # an endpoint failing this long is turned off
LEASE = timedelta(minutes=2)
TIMEOUT_SECONDS = 10.0
RESPONSE_KEPT = 2000  # characters of the receiver's answer kept in the log
USER_AGENT = "Webhooks/1.0 (Standard Webhooks)"


def signed_request(*, secret: str, event_id: str, body: str, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt (timestamp of the attempt itself)."""
    timestamp = now.astimezone(UTC)
    signature = Webhook(secret).sign(msg_id=event_id, timestamp=timestamp, data=body)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }


def _runnable(now: datetime, limit: int) -> list[WebhookDelivery]:
    due = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now,
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(endpoint__isnull=True) | Q(endpoint__enabled=True))
        .order_by("id")[:limit]
    )
    if not due:
        return []
    # In order per object: only the oldest pending delivery of each queue may go.
    heads = dict(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, queue_key__in={d.queue_key for d in due}
        )
        .values("queue_key")
        .annotate(first=Min("id"))
        .values_list("queue_key", "first")
    )
    return [d for d in due if heads.get(d.queue_key) == d.pk]


def _claim(delivery: WebhookDelivery, now: datetime) -> bool:
    """Take a lease on the row, so two workers never send the same attempt."""
    return bool(
        WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + LEASE)
    )


def deliveries_run(*, now: datetime | None = None, limit: int = 200) -> int:
    """Send what is due now; returns how many attempts were made."""
    made = 0
    with guarded_client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        while True:
            current = now or timezone.now()
            batch = [d for d in _runnable(current, limit) if _claim(d, current)]
            if not batch:
                return made
            for delivery in batch:
                delivery_attempt(delivery, client=client, now=current)
                made += 1
            if now is not None:
                # A fixed clock (tests, catch-up): one pass per call, retries wait for a later one.
                return made


def delivery_attempt(delivery: WebhookDelivery, *, client: httpx.Client, now: datetime) -> None:
    endpoint = delivery.endpoint
    url = endpoint.url if endpoint is not None else delivery.url
    secret = endpoint.secret if endpoint is not None else delivery.secret
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)
    status_code, answer, error = None, "", ""
    started = time.monotonic()
    try:
        # Signed at the real sending time (receivers reject old timestamps), whatever `now` says.
        headers = signed_request(
            secret=secret, event_id=delivery.event_id, body=body, now=timezone.now()
        )
        response = client.post(url, content=body.encode(), headers=headers)
        status_code, answer = response.status_code, response.text[:RESPONSE_KEPT]
        if not 200 <= status_code < 300:
            error = f"The endpoint answered {status_code}."
    except MailherdError as exc:  # netguard: the target is not allowed
        error = exc.message
    except httpx.TimeoutException:
        error = f"No answer within {int(TIMEOUT_SECONDS)} seconds."
    except httpx.HTTPError as exc:
        error = f"Could not connect: {exc}"[:500]
    except Exception as exc:  # noqa: BLE001 - a bad secret or payload must not stop the worker
        logger.exception("webhook delivery %s failed unexpectedly", delivery.pk)
        error = f"Could not send: {exc}"[:500]
    _record(
        delivery,
        endpoint,
        now,
        status_code,
        answer,
        error,
        int((time.monotonic() - started) * 1000),
    )


def _record(delivery, endpoint, now, status_code, answer, error, duration_ms) -> None:
    succeeded = not error
    disabled = None
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            attempted_at=now,
            status_code=status_code,
            response_body=answer,
            error=error[:500],
            duration_ms=duration_ms,
        )
        delivery.attempts += 1
        delivery.lease_until = None
        if succeeded:
            delivery.status, delivery.finished_at, delivery.next_attempt_at = (
                WebhookDelivery.Status.SUCCEEDED,
                now,
                None,
            )
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.finished_at, delivery.next_attempt_at = (
                WebhookDelivery.Status.FAILED,
                now,
                None,
            )
        else:
            delivery.next_attempt_at = now + RETRY_SCHEDULE[delivery.attempts - 1]
        delivery.save(
            update_fields=["attempts", "lease_until", "status", "finished_at", "next_attempt_at"]
        )
        if endpoint is not None:
            disabled = _endpoint_health(endpoint.pk, succeeded, now, error)
    if disabled is not None:
        _notify_disabled(disabled)


def _endpoint_health(endpoint_id: int, succeeded: bool, now: datetime, error: str):
    """Track how long an endpoint has failed; turn it off after a day. Returns it when turned off."""
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        return None
    if succeeded:
        if endpoint.failing_since is not None:
            endpoint.failing_since = None
            endpoint.save(update_fields=["failing_since", "updated_at"])
        return None
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since", "updated_at"])
        return None
    if endpoint.enabled and now - endpoint.failing_since >= DISABLE_AFTER:
        endpoint.enabled = False
        endpoint.disabled_reason = (
            f"Turned off on {now:%Y-%m-%d %H:%M} UTC after failing since "
            f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC. Last error: {error}"
        )[:300]
        endpoint.save(update_fields=["enabled", "disabled_reason", "updated_at"])
        from mailherd.core.actors import Actor
        from mailherd.core.audit import audit_record

        audit_record(
            actor=Actor.system(),
            action="webhook.disable",
            organization=endpoint.organization,
            obj=endpoint,
            data={"reason": endpoint.disabled_reason},
        )
        return endpoint
    return None


def _notify_disabled(endpoint: WebhookEndpoint) -> int:
    """Email the organization's owners that their endpoint was turned off."""
    from django.urls import reverse

    from mailherd.notifications.services import email_send
    from mailherd.operator.selectors import branding_get
    from mailherd.tenancy.models import Membership, Role

    organization = endpoint.organization
    site_url = branding_get().site_url
    settings_url = site_url + reverse(
        "webhooks:endpoint_detail", args=[organization.slug, endpoint.pk]
    )
    sent = 0
    for membership in Membership.objects.filter(
        organization=organization, role=Role.OWNER
    ).select_related("user"):
        email_send(
            to=membership.user.email,
            template="webhook_disabled",
            context={
                "organization_name": organization.name,
                "endpoint_url": endpoint.url,
                "reason": endpoint.disabled_reason,
                "settings_url": settings_url,
            },
            organization=organization,
        )
        sent += 1
    return sent
