"""Celery entry points for billing: thin wrappers over the services (schedules: schedule.py)."""

from celery import shared_task
from django.db.models.functions import Mod
from django.utils import timezone

from mailherd.billing import conf
from mailherd.billing.dunning import dunning_sweep
from mailherd.billing.models import Subscription
from mailherd.billing.services import billing_sync
from mailherd.billing.webhooks import webhook_events_retry

SYNC_SLOTS = 24  # each account is re-read once a day, spread over the hours


@shared_task
def dunning_sweep_task() -> int:
    """Both modes: manual invoices past due start their episode, then every due step runs."""
    from mailherd.billing.manual import manual_overdue_sweep

    manual_overdue_sweep()
    return dunning_sweep()


@shared_task
def billing_sync_task() -> int:
    """Re-read this hour's share of billing accounts from Stripe (missed webhooks heal here)."""
    if not conf.billing_enabled():
        return 0
    slot = timezone.now().hour
    ids = (
        Subscription.objects.exclude(stripe_subscription_id="")
        .annotate(slot=Mod("id", SYNC_SLOTS))
        .filter(slot=slot)
        .values_list("pk", flat=True)
    )
    ids = list(ids)
    for subscription_id in ids:
        billing_sync_one_task.delay(subscription_id)
    return len(ids)


@shared_task(autoretry_for=(Exception,), retry_backoff=60, max_retries=3)
def billing_sync_one_task(subscription_id: int) -> str:
    return billing_sync(subscription_id=subscription_id).status


@shared_task
def webhook_events_retry_task() -> int:
    if not conf.billing_enabled():
        return 0
    return webhook_events_retry()
