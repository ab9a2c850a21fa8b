from celery import shared_task


@shared_task(name="mailherd.imapwatch.tasks.watch_refresh_task")
def watch_refresh_task() -> tuple[int, int]:
    """Start and stop watching mailboxes as handlers' wishes change (also run on rule changes)."""
    from mailherd.imapwatch.services import watch_refresh

    return watch_refresh()
