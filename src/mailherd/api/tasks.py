from celery import shared_task

from mailherd.api.idempotency import purge_expired


@shared_task(ignore_result=True)
def idempotency_purge_task() -> int:
    """Forget Idempotency-Key answers older than a day."""
    return purge_expired()
