"""Every periodic job, in one place (synced into django-celery-beat at start)."""

CELERY_BEAT_SCHEDULE: dict = {
    "core-heartbeat": {"task": "mailherd.core.tasks.heartbeat_task", "schedule": 300.0},
    "mail-server-health": {
        "task": "mailherd.mailcow.tasks.mail_server_health_check_task",
        "schedule": 300.0,
    },
}
