"""Celery entry points for deliverability: thin wrappers over the services (schedules in mailherd.schedule)."""

from celery import shared_task

from mailherd.deliverability import services


@shared_task(ignore_result=True)
def source_names_refresh_task(ips: list[str]) -> int:
    return services.source_names_refresh(ips=ips)


@shared_task(ignore_result=True)
def source_names_sweep_task() -> int:
    return services.source_names_sweep()


@shared_task(ignore_result=True)
def blocklists_check_task() -> int:
    from mailherd.deliverability.blocklists import blocklists_check

    return len(blocklists_check())
