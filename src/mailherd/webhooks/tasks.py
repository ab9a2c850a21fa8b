"""Celery entry points for webhooks: thin wrappers over the worker."""

from celery import shared_task

from mailherd.core.nudges import nudge_taken
from mailherd.webhooks.delivery import deliveries_run


@shared_task(ignore_result=True)
def webhook_deliveries_task() -> int:
    """Send due deliveries (nudged after events, and periodically for retries)."""
    nudge_taken("webhooks")
    return deliveries_run()
