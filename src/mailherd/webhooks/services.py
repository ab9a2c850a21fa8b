"""Webhook endpoints, lifecycle events and deliveries (writes). See docs/webhooks.md.

`event_emit` is what other features call, inside the transaction of their change: it writes one
delivery row per subscribed endpoint, so an event is sent exactly when the change commits.
`webhook_send` queues one signed delivery to any URL (a rule's webhook action uses it).
"""

import base64
import secrets

from django.db import transaction
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import NotFound, ValidationFailed
from mailherd.core.netguard import validate_url
from mailherd.webhooks.events import EVENT_TYPES, TEST_EVENT
from mailherd.webhooks.models import WebhookDelivery, WebhookEndpoint

MAX_ENDPOINTS = 20
MAX_DESCRIPTION = 200


def webhook_secret_generate() -> str:
    """A Standard Webhooks secret: whsec_ + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def event_id_generate() -> str:
    return "evt_" + secrets.token_hex(12)


def _clean_events(events) -> list[str]:
    if events is None or not isinstance(events, list | tuple):
        raise ValidationFailed("Pick at least one event type.", field="events")
    chosen = []
    for event in events:
        if event not in EVENT_TYPES:
            known = ", ".join(EVENT_TYPES)
            raise ValidationFailed(
                f"'{event}' is not an event type; choose from {known}.", field="events"
            )
        if event not in chosen:
            chosen.append(event)
    if not chosen:
        raise ValidationFailed("Pick at least one event type.", field="events")
    return chosen


def _clean_description(description: str | None) -> str:
    description = " ".join((description or "").split())
    if len(description) > MAX_DESCRIPTION:
        raise ValidationFailed(
            f"A description can have at most {MAX_DESCRIPTION} characters.", field="description"
        )
    return description


def _endpoint_for_update(organization, endpoint_id) -> WebhookEndpoint:
    endpoint = (
        WebhookEndpoint.objects.select_for_update()
        .filter(organization=organization, pk=endpoint_id)
        .first()
    )
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def endpoint_create(
    *, actor: Actor, organization, url: str, events, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with its secret (shown to the customer once)."""
    url = validate_url(url)
    events = _clean_events(events)
    description = _clean_description(description)
    with transaction.atomic():
        count = WebhookEndpoint.objects.filter(organization=organization).count()
        if count >= MAX_ENDPOINTS:
            raise ValidationFailed(
                f"An organization can have at most {MAX_ENDPOINTS} webhook endpoints; delete one "
                "you no longer use.",
                field="url",
            )
        secret = webhook_secret_generate()
        endpoint = WebhookEndpoint.objects.create(
            organization=organization,
            url=url,
            events=events,
            description=description,
            secret=secret,
            created_by=actor.user,
        )
        audit_record(
            actor=actor,
            action="webhook.create",
            organization=organization,
            obj=endpoint,
            data={"events": events},
        )
    return endpoint, secret


def endpoint_update(
    *,
    actor: Actor,
    organization,
    endpoint_id: int,
    url: str | None = None,
    events=None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change an endpoint; turning it back on clears the failure that turned it off."""
    if url is not None:
        url = validate_url(url)
    if events is not None:
        events = _clean_events(events)
    if description is not None:
        description = _clean_description(description)
    with transaction.atomic():
        endpoint = _endpoint_for_update(organization, endpoint_id)
        changed = {}
        for name, value in (("url", url), ("events", events), ("description", description)):
            if value is not None and getattr(endpoint, name) != value:
                setattr(endpoint, name, value)
                changed[name] = value
        if enabled is not None and enabled != endpoint.enabled:
            endpoint.enabled = enabled
            changed["enabled"] = enabled
            if enabled:
                endpoint.disabled_reason, endpoint.failing_since = "", None
                # Deliveries that waited while it was off go out now, in their order.
                endpoint.deliveries.filter(status=WebhookDelivery.Status.PENDING).update(
                    next_attempt_at=timezone.now()
                )
                _kick_after_commit()
            else:
                endpoint.disabled_reason = f"Turned off by {actor.label}."
        if changed:
            endpoint.save()
            audit_record(
                actor=actor,
                action="webhook.update",
                organization=organization,
                obj=endpoint,
                data={k: v for k, v in changed.items() if k != "url"}
                | ({"url": True} if "url" in changed else {}),
            )
    return endpoint


def endpoint_secret_rotate(
    *, actor: Actor, organization, endpoint_id: int
) -> tuple[WebhookEndpoint, str]:
    with transaction.atomic():
        endpoint = _endpoint_for_update(organization, endpoint_id)
        secret = webhook_secret_generate()
        endpoint.secret = secret
        endpoint.save(update_fields=["secret", "updated_at"])
        audit_record(
            actor=actor, action="webhook.rotate_secret", organization=organization, obj=endpoint
        )
    return endpoint, secret


def endpoint_delete(*, actor: Actor, organization, endpoint_id: int) -> None:
    with transaction.atomic():
        endpoint = _endpoint_for_update(organization, endpoint_id)
        audit_record(actor=actor, action="webhook.delete", organization=organization, obj=endpoint)
        endpoint.delete()


# --- events and deliveries -----------------------------------------------------------------------


def _event_body(*, event_id: str, event_type: str, organization, data: dict) -> dict:
    return {
        "id": event_id,
        "type": event_type,
        "timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
        "organization": organization.slug if organization is not None else None,
        "data": data,
    }


def event_emit(*, organization, event_type: str, data: dict, object_key: str = "") -> int:
    """Queue `event_type` for every endpoint of the organization that subscribed to it.

    Call inside the transaction of the change: the deliveries commit with it, or not at all.
    `object_key` (e.g. "mailbox:ann@example.com") keeps one object's events in order.
    Returns how many deliveries were queued.
    """
    return events_emit(organization=organization, events=[(event_type, data, object_key)])


def events_emit(*, organization, events: list[tuple[str, dict, str]]) -> int:
    """Several events at once (bulk changes): one query for the endpoints, one insert."""
    for event_type, _, _ in events:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown webhook event type {event_type!r}")
    # Endpoints that are off get their deliveries too: they wait, and go out when it is back on.
    endpoints = list(WebhookEndpoint.objects.filter(organization=organization))
    if not endpoints:
        return 0
    now = timezone.now()
    rows = []
    for event_type, data, object_key in events:
        subscribers = [e for e in endpoints if event_type in e.events]
        if not subscribers:
            continue
        event_id = event_id_generate()
        body = _event_body(
            event_id=event_id, event_type=event_type, organization=organization, data=data
        )
        for endpoint in subscribers:
            rows.append(
                WebhookDelivery(
                    organization=organization,
                    endpoint=endpoint,
                    source=f"endpoint:{endpoint.pk}",
                    url=endpoint.url,
                    event_id=event_id,
                    event_type=event_type,
                    object_key=object_key[:300],
                    queue_key=f"endpoint:{endpoint.pk}|{object_key or event_id}"[:400],
                    payload=body,
                    next_attempt_at=now,
                )
            )
    if rows:
        WebhookDelivery.objects.bulk_create(rows)
        _kick_after_commit()
    return len(rows)


def webhook_send(
    *,
    url: str,
    secret: str,
    event_type: str,
    data: dict,
    source: str,
    organization=None,
    object_key: str = "",
) -> WebhookDelivery:
    """Queue one signed delivery of an event to `url` (retried, logged, in order per object).

    For features with their own target (a rule's webhook action: source="rule:<id>"); `secret` is
    a whsec_ secret the feature keeps. Call inside the change's transaction.
    """
    url = validate_url(url)
    event_id = event_id_generate()
    delivery = WebhookDelivery.objects.create(
        organization=organization,
        source=source[:100],
        url=url,
        secret=secret,
        event_id=event_id,
        event_type=event_type[:60],
        object_key=object_key[:300],
        queue_key=f"{source}|{object_key or event_id}"[:400],
        payload=_event_body(
            event_id=event_id, event_type=event_type, organization=organization, data=data
        ),
        next_attempt_at=timezone.now(),
    )
    _kick_after_commit()
    return delivery


def delivery_resend(*, actor: Actor, organization, delivery_id: int) -> WebhookDelivery:
    """ "Send again": a new delivery of the same event (same webhook-id, so receivers can dedupe)."""
    with transaction.atomic():
        original = (
            WebhookDelivery.objects.select_related("endpoint")
            .filter(organization=organization, pk=delivery_id)
            .first()
        )
        if original is None:
            raise NotFound("No such delivery.")
        endpoint = original.endpoint
        copy = WebhookDelivery.objects.create(
            organization=organization,
            endpoint=endpoint,
            source=original.source,
            url=endpoint.url if endpoint is not None else original.url,
            secret=original.secret,
            event_id=original.event_id,
            event_type=original.event_type,
            object_key=original.object_key,
            # Its own queue: a resend is asked for by a person and should not wait behind retries.
            queue_key=f"{original.source}|resend:{original.pk}:{secrets.token_hex(4)}",
            payload=original.payload,
            next_attempt_at=timezone.now(),
            resent_from=original,
        )
        audit_record(
            actor=actor,
            action="webhook.resend",
            organization=organization,
            obj=copy,
            data={"event_id": original.event_id},
        )
        _kick_after_commit()
    return copy


def endpoint_send_test(*, actor: Actor, organization, endpoint_id: int) -> WebhookDelivery:
    """Queue a `webhook.test` event to one endpoint, to try the receiver."""
    with transaction.atomic():
        endpoint = _endpoint_for_update(organization, endpoint_id)
        event_id = event_id_generate()
        delivery = WebhookDelivery.objects.create(
            organization=organization,
            endpoint=endpoint,
            source=f"endpoint:{endpoint.pk}",
            url=endpoint.url,
            event_id=event_id,
            event_type=TEST_EVENT,
            queue_key=f"endpoint:{endpoint.pk}|{event_id}",
            payload=_event_body(
                event_id=event_id,
                event_type=TEST_EVENT,
                organization=organization,
                data={"message": "A test event sent from the webhook settings."},
            ),
            next_attempt_at=timezone.now(),
        )
        audit_record(actor=actor, action="webhook.test", organization=organization, obj=endpoint)
        _kick_after_commit()
    return delivery


def _kick_after_commit() -> None:
    from mailherd.core.nudges import nudge_after_commit

    nudge_after_commit(kick_worker)


def kick_worker() -> None:
    from mailherd.core.nudges import nudge
    from mailherd.webhooks.tasks import webhook_deliveries_task

    nudge(webhook_deliveries_task, "webhooks")
