"""Every periodic job, in one place (synced into django-celery-beat at start)."""

CELERY_BEAT_SCHEDULE: dict = {
    "outbox-maintenance": {"task": "mailherd.hosting.tasks.outbox_maintenance_task", "schedule": 15.0},
    # Also refreshes mailbox usage (quota used, messages) from the same list calls.
    "reconcile": {"task": "mailherd.hosting.tasks.reconcile_task", "schedule": 600.0},
    "core-heartbeat": {"task": "mailherd.core.tasks.heartbeat_task", "schedule": 300.0},
    "mail-server-health": {
        "task": "mailherd.mailcow.tasks.mail_server_health_check_task",
        "schedule": 300.0,
    },
}
