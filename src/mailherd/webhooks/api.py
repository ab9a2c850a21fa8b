"""REST API v1 for webhook endpoints and their delivery log: thin, over the services."""

from datetime import datetime
from typing import Literal

from ninja import Field, Query, Router, Schema, Status

from mailherd.api.errors import not_found
from mailherd.api.pagination import CURSOR_DESCRIPTION, LIMIT_DESCRIPTION, cursor_page, page_schema
from mailherd.webhooks import selectors, services
from mailherd.webhooks.events import EVENT_TYPES

router = Router(tags=["webhooks"])

EventType = Literal[tuple(EVENT_TYPES)]  # type: ignore[valid-type]


class ErrorOut(Schema):
    code: str
    message: str


class WebhookIn(Schema):
    url: str = Field(
        ...,
        max_length=2000,
        description="HTTPS URL on the public internet that accepts POSTed JSON events.",
        examples=["https://hooks.example.com/mail-events"],
    )
    events: list[EventType] = Field(
        ..., min_length=1, description="Event types to send.", examples=[["mailbox.created"]]
    )
    description: str = Field("", max_length=200)


class WebhookPatch(Schema):
    url: str | None = Field(None, max_length=2000)
    events: list[EventType] | None = Field(None, min_length=1)
    description: str | None = Field(None, max_length=200)
    enabled: bool | None = Field(
        None, description="Turning it back on sends what waited, in order."
    )


class WebhookOut(Schema):
    id: int
    url: str
    description: str
    events: list[str]
    enabled: bool
    disabled_reason: str
    failing_since: datetime | None
    created_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(
        ...,
        description="The Standard Webhooks signing secret (whsec_…); shown only in this answer.",
    )


class AttemptOut(Schema):
    attempted_at: datetime
    status_code: int | None
    response_body: str
    error: str
    duration_ms: int


class DeliveryOut(Schema):
    id: int
    event_id: str = Field(..., description="The webhook-id header; the same for a resend.")
    event_type: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    payload: dict
    attempt_log: list[AttemptOut]


WebhookPage = page_schema(WebhookOut, "WebhookPage")
DeliveryPage = page_schema(DeliveryOut, "DeliveryPage")


def webhook_out(endpoint) -> dict:
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": endpoint.failing_since,
        "created_at": endpoint.created_at,
    }


def delivery_out(delivery) -> dict:
    return {
        "id": delivery.pk,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "created_at": delivery.created_at,
        "finished_at": delivery.finished_at,
        "payload": delivery.payload,
        "attempt_log": [
            {
                "attempted_at": a.attempted_at,
                "status_code": a.status_code,
                "response_body": a.response_body,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in delivery.attempt_log.all()
        ],
    }


def _endpoint_or_404(request, webhook_id: int):
    endpoint = selectors.endpoint_get(organization=request.organization, endpoint_id=webhook_id)
    if endpoint is None:
        raise not_found("webhook endpoint", webhook_id)
    return endpoint


@router.get("/webhooks", response={200: WebhookPage}, summary="List webhook endpoints")
def webhooks_list(
    request,
    cursor: str | None = Query(None, description=CURSOR_DESCRIPTION),
    limit: int = Query(100, ge=1, le=1000, description=LIMIT_DESCRIPTION),
):
    """The organization's webhook endpoints, oldest first. Secrets are never listed."""
    return cursor_page(
        selectors.endpoint_list(organization=request.organization),
        cursor=cursor,
        limit=limit,
        order="id",
        serialize=webhook_out,
    )


@router.post(
    "/webhooks",
    response={201: WebhookCreatedOut, 422: ErrorOut},
    summary="Register a webhook endpoint",
)
def webhooks_create(request, body: WebhookIn):
    """Register an HTTPS endpoint for the chosen events. The answer carries the signing secret,
    shown only this once. Every delivery is signed as the Standard Webhooks specification says
    (`webhook-id`, `webhook-timestamp`, `webhook-signature`). Loopback, private and link-local
    targets are refused (422 `target_not_allowed`)."""
    endpoint, secret = services.endpoint_create(
        actor=request.actor,
        organization=request.organization,
        url=body.url,
        events=list(body.events),
        description=body.description,
    )
    return Status(201, {**webhook_out(endpoint), "secret": secret})


@router.get(
    "/webhooks/{webhook_id}",
    response={200: WebhookOut, 404: ErrorOut},
    summary="Get a webhook endpoint",
)
def webhooks_get(request, webhook_id: int):
    """One endpoint; `failing_since` and `disabled_reason` say whether deliveries fail."""
    return webhook_out(_endpoint_or_404(request, webhook_id))


@router.patch(
    "/webhooks/{webhook_id}",
    response={200: WebhookOut, 404: ErrorOut, 422: ErrorOut},
    summary="Change a webhook endpoint",
)
def webhooks_update(request, webhook_id: int, body: WebhookPatch):
    """Change the URL, events or description, or turn the endpoint off and on."""
    endpoint = services.endpoint_update(
        actor=request.actor,
        organization=request.organization,
        endpoint_id=_endpoint_or_404(request, webhook_id).pk,
        url=body.url,
        events=list(body.events) if body.events is not None else None,
        description=body.description,
        enabled=body.enabled,
    )
    return webhook_out(endpoint)


@router.delete(
    "/webhooks/{webhook_id}",
    response={204: None, 404: ErrorOut},
    summary="Delete a webhook endpoint",
)
def webhooks_delete(request, webhook_id: int):
    """Delete the endpoint with its delivery log; nothing more is sent to it."""
    services.endpoint_delete(
        actor=request.actor,
        organization=request.organization,
        endpoint_id=_endpoint_or_404(request, webhook_id).pk,
    )
    return Status(204, None)


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    response={200: WebhookCreatedOut, 404: ErrorOut},
    summary="Replace the signing secret",
)
def webhooks_rotate_secret(request, webhook_id: int):
    """A new signing secret, shown once; deliveries from now on are signed with it."""
    endpoint, secret = services.endpoint_secret_rotate(
        actor=request.actor,
        organization=request.organization,
        endpoint_id=_endpoint_or_404(request, webhook_id).pk,
    )
    return {**webhook_out(endpoint), "secret": secret}


@router.post(
    "/webhooks/{webhook_id}/test",
    response={202: DeliveryOut, 404: ErrorOut},
    summary="Send a test event",
)
def webhooks_test(request, webhook_id: int):
    """Queue a `webhook.test` event to the endpoint; see the outcome in its deliveries."""
    delivery = services.endpoint_send_test(
        actor=request.actor,
        organization=request.organization,
        endpoint_id=_endpoint_or_404(request, webhook_id).pk,
    )
    return Status(202, delivery_out(delivery))


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response={200: DeliveryPage, 404: ErrorOut},
    summary="List an endpoint's deliveries",
)
def webhooks_deliveries(
    request,
    webhook_id: int,
    status: Literal["pending", "succeeded", "failed"] | None = None,
    event_type: str | None = Query(None, max_length=60),
    cursor: str | None = Query(None, description=CURSOR_DESCRIPTION),
    limit: int = Query(100, ge=1, le=1000, description=LIMIT_DESCRIPTION),
):
    """Newest first, each with every attempt's answer (status code, the first 2,000 characters
    of the body, or why the endpoint could not be reached)."""
    endpoint = _endpoint_or_404(request, webhook_id)
    rows = selectors.delivery_list(
        organization=request.organization,
        endpoint=endpoint,
        status=status or "",
        event_type=event_type or "",
    )
    return cursor_page(rows, cursor=cursor, limit=limit, order="-id", serialize=delivery_out)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/resend",
    response={202: DeliveryOut, 404: ErrorOut},
    summary="Send a delivery again",
)
def webhooks_delivery_resend(request, webhook_id: int, delivery_id: int):
    """Queue the same event again (same `webhook-id`, so a receiver can tell it is a repeat)."""
    endpoint = _endpoint_or_404(request, webhook_id)
    if not endpoint.deliveries.filter(pk=delivery_id).exists():
        raise not_found("delivery", delivery_id)
    delivery = services.delivery_resend(
        actor=request.actor, organization=request.organization, delivery_id=delivery_id
    )
    return Status(202, delivery_out(delivery))
