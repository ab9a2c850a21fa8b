"""Writing to the provisioning outbox (see docs/outbox.md).

Called inside the service's transaction, so the object and its outbox row
commit together; the worker is nudged after commit.
"""

import logging

from django.db import transaction
from django.utils import timezone

from mailherd.hosting.models import ProvisioningOp

logger = logging.getLogger(__name__)


def domain_key(name: str) -> str:
    return f"domain:{name}"


def enqueue(
    *, kind: str, object_key: str, organization, domain_name: str, payload=None, secret: str = ""
) -> ProvisioningOp:
    op = ProvisioningOp.objects.create(
        organization=organization,
        kind=kind,
        object_key=object_key,
        payload={"domain": domain_name, **(payload or {})},
        secret=secret,
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(kick_worker)
    return op


def kick_worker() -> None:
    """Ask a worker to drain the outbox now; if the broker is down, the periodic job catches up."""
    from mailherd.hosting.tasks import outbox_process_task

    try:
        outbox_process_task.delay()
    except Exception as exc:  # noqa: BLE001 - a broker outage must not fail the user's change
        logger.warning("could not nudge the outbox worker: %s", exc)
