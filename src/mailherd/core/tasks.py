from celery import shared_task


@shared_task
def heartbeat_task() -> str:
    """A periodic no-op so the scheduler and workers show life in the logs."""
    return "ok"


@shared_task
def echo_task(value):
    """Return `value`: used by the worker round-trip test and `mailherd check_worker`."""
    return value
