"""Celery entry points for DNS: thin wrappers over the services (schedules in mailherd.schedule)."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from mailherd.dns import services


def recheck_period_minutes() -> int:
    return int(
        getattr(settings, "MAILHERD_DNS_RECHECK_MINUTES", services.DEFAULT_RECHECK_PERIOD_MINUTES)
    )


@shared_task(ignore_result=True)
def dns_recheck_task() -> int:
    """Runs every minute; checks the domains whose slot this minute is (id % period).

    Every domain is checked once per period, and the load is spread evenly over it.
    """
    period = recheck_period_minutes()
    slot = int(timezone.now().timestamp() // 60) % period
    return services.dns_recheck_slot(period=period, slot=slot)


@shared_task(ignore_result=True)
def dmarc_stages_apply_task() -> int:
    return services.dmarc_stages_apply()


@shared_task(ignore_result=True)
def dns_check_history_prune_task() -> int:
    return services.dns_check_history_prune()
