"""Celery entry points for hosting: thin wrappers over provisioning and the reconciler."""

from celery import shared_task

from mailherd.core.nudges import nudge_taken
from mailherd.hosting import provisioning

# Changes arriving one by one are applied a few at a time: at most this much later.
SETTLE_SECONDS = 0.1


@shared_task(ignore_result=True)
def outbox_process_task() -> int:
    """Drain the outbox (nudged after changes, and periodically for retries)."""
    nudge_taken("outbox")
    return provisioning.outbox_drain(settle_seconds=SETTLE_SECONDS)


@shared_task(ignore_result=True)
def outbox_maintenance_task() -> int:
    provisioning.outbox_release_stale_claims()
    return provisioning.outbox_drain()


@shared_task(ignore_result=True)
def reconcile_task() -> int:
    """Reconcile every active server; a server that is down is skipped until next time."""
    from mailherd.hosting.reconciler import reconcile_server
    from mailherd.mailcow.client import MailcowError
    from mailherd.mailcow.models import MailServer

    done = 0
    for server in MailServer.objects.filter(is_active=True):
        try:
            reconcile_server(server=server)
            done += 1
        except MailcowError:
            continue
    return done


@shared_task(ignore_result=True)
def dkim_rotations_task() -> dict:
    """Switch DKIM key changes whose new record resolves; finish and start them on schedule."""
    from mailherd.hosting.services.dkim_rotation import dkim_rotations_advance

    return dkim_rotations_advance()


@shared_task(ignore_result=True)
def platform_mailboxes_task() -> dict:
    """Give members of paying organizations their platform address; remove the ones past their grace."""
    from mailherd.hosting.services.platform import platform_mailboxes_sweep

    return platform_mailboxes_sweep()
