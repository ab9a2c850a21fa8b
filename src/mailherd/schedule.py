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

# DNS: each minute re-checks the domains whose id % period is this minute's slot.
CELERY_BEAT_SCHEDULE["dns-recheck"] = {"task": "mailherd.dns.tasks.dns_recheck_task", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["dns-check-history-prune"] = {"task": "mailherd.dns.tasks.dns_check_history_prune_task", "schedule": 86400.0}
CELERY_BEAT_SCHEDULE["dns-dmarc-stages"] = {"task": "mailherd.dns.tasks.dmarc_stages_apply_task", "schedule": 600.0}

# Billing: dunning sweep (retries, emails, suspension; docs/billing.md), hourly share of the
# Stripe re-sync (missed webhooks heal here), and webhook events whose handling failed.
CELERY_BEAT_SCHEDULE["billing-dunning-sweep"] = {"task": "mailherd.billing.tasks.dunning_sweep_task", "schedule": 900.0}
CELERY_BEAT_SCHEDULE["billing-sync"] = {"task": "mailherd.billing.tasks.billing_sync_task", "schedule": 3600.0}
CELERY_BEAT_SCHEDULE["billing-webhook-retry"] = {"task": "mailherd.billing.tasks.webhook_events_retry_task", "schedule": 600.0}
# Announcements marked "send by email" go out once they start (each exactly once).
CELERY_BEAT_SCHEDULE["announcement-emails"] = {
    "task": "mailherd.notifications.tasks.announcement_emails_task",
    "schedule": 300.0,
}

# Deliverability: name the DMARC reports' sending sources (reverse DNS) not yet or no longer named.
CELERY_BEAT_SCHEDULE["deliverability-source-names"] = {
    "task": "mailherd.deliverability.tasks.source_names_sweep_task",
    "schedule": 600.0,
}
# IMAP watcher: start/stop watching mailboxes as message handlers (rules, reports) want them.
CELERY_BEAT_SCHEDULE["imap-watch-refresh"] = {"task": "mailherd.imapwatch.tasks.watch_refresh_task", "schedule": 300.0}
# Operator: every mail server's IPs against the configured DNS blocklists, hourly.
CELERY_BEAT_SCHEDULE["deliverability-blocklists"] = {
    "task": "mailherd.deliverability.tasks.blocklists_check_task",
    "schedule": 3600.0,
}
# Webhooks: due deliveries and retries (new events also nudge the worker at once).
CELERY_BEAT_SCHEDULE["webhook-deliveries"] = {
    "task": "mailherd.webhooks.tasks.webhook_deliveries_task",
    "schedule": 15.0,
}
# API: forget Idempotency-Key answers after a day.
CELERY_BEAT_SCHEDULE["api-idempotency-purge"] = {
    "task": "mailherd.api.tasks.idempotency_purge_task",
    "schedule": 3600.0,
}
# DKIM key changes: switch once the new record resolves, finish after the overlap, start on the
# operator's schedule (MAILHERD_DKIM_ROTATION_DAYS).
CELERY_BEAT_SCHEDULE["dkim-rotations"] = {"task": "mailherd.hosting.tasks.dkim_rotations_task", "schedule": 900.0}
# Platform mailboxes: members of paying organizations still without one get it; due removals run.
CELERY_BEAT_SCHEDULE["platform-mailboxes"] = {"task": "mailherd.hosting.tasks.platform_mailboxes_task", "schedule": 900.0}
