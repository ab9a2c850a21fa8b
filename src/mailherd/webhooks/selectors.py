"""Webhook reads: endpoints and the delivery log, always scoped to one organization."""

from django.db.models import Prefetch

from mailherd.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def endpoint_list(*, organization):
    return WebhookEndpoint.objects.filter(organization=organization).order_by("created_at", "id")


def endpoint_get(*, organization, endpoint_id) -> WebhookEndpoint | None:
    try:
        endpoint_id = int(endpoint_id)
    except (TypeError, ValueError):
        return None
    return WebhookEndpoint.objects.filter(organization=organization, pk=endpoint_id).first()


def delivery_list(*, organization, endpoint=None, status: str = "", event_type: str = ""):
    """Newest first, each with its attempts."""
    rows = WebhookDelivery.objects.filter(organization=organization).prefetch_related(
        Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("id"))
    )
    if endpoint is not None:
        rows = rows.filter(endpoint=endpoint)
    if status:
        rows = rows.filter(status=status)
    if event_type:
        rows = rows.filter(event_type=event_type)
    return rows.order_by("-id")
