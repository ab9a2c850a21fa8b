"""Writing to the provisioning outbox (see docs/outbox.md).

Called inside the service's transaction, so the object and its outbox row
commit together; the worker is nudged after commit.
"""

from django.db import transaction
from django.utils import timezone

from mailherd.hosting.models import ProvisioningOp


def domain_key(name: str) -> str:
    return f"domain:{name}"


def enqueue(*, kind: str, object_key: str, organization, domain_name: str, payload=None) -> ProvisioningOp:
    op = outbox_row(kind=kind, object_key=object_key, organization=organization,
                    domain_name=domain_name, payload=payload)
    op.save()
    _kick_after_commit()
    return op


def enqueue_many(rows: list[ProvisioningOp]) -> None:
    """Write rows made by `outbox_row` in one statement (they keep their order)."""
    ProvisioningOp.objects.bulk_create(rows)
    _kick_after_commit()


def outbox_row(*, kind: str, object_key: str, organization, domain_name: str, payload=None) -> ProvisioningOp:
    return ProvisioningOp(
        organization=organization,
        kind=kind,
        object_key=object_key,
        payload={"domain": domain_name, **(payload or {})},
        next_attempt_at=timezone.now(),
    )


def _kick_after_commit() -> None:
    from mailherd.core.nudges import nudge_after_commit

    nudge_after_commit(kick_worker)


def kick_worker() -> None:
    """Ask a worker to drain the outbox now; if the broker is down, the periodic job catches up."""
    from mailherd.core.nudges import nudge
    from mailherd.hosting.tasks import outbox_process_task

    nudge(outbox_process_task, "outbox")


def outbox_retry(*, actor, op_ids) -> int:
    """Put parked rows back in line (the operator fixed the cause). Returns how many."""
    from mailherd.core.audit import audit_record
    from mailherd.hosting.models import SyncStatus

    with transaction.atomic():
        ops = list(ProvisioningOp.objects.select_for_update().filter(pk__in=op_ids, status=ProvisioningOp.Status.FAILED))
        for op in ops:
            op.status, op.next_attempt_at, op.attempts = ProvisioningOp.Status.PENDING, timezone.now(), 0
            op.save(update_fields=["status", "next_attempt_at", "attempts"])
            _object_pending(op, SyncStatus.PENDING)
            audit_record(actor=actor, action="outbox.retry", organization=op.organization, obj=op)
        if ops:
            transaction.on_commit(kick_worker)
    return len(ops)


def outbox_discard(*, actor, op_ids) -> int:
    """Give up on parked rows; the object keeps its error until it is changed again."""
    from mailherd.core.audit import audit_record

    with transaction.atomic():
        ops = list(ProvisioningOp.objects.select_for_update().filter(pk__in=op_ids, status=ProvisioningOp.Status.FAILED))
        for op in ops:
            op.status = ProvisioningOp.Status.DONE
            op.last_error = f"discarded by {actor.label}: {op.last_error}"[:2000]
            op.save(update_fields=["status", "last_error"])
            audit_record(actor=actor, action="outbox.discard", organization=op.organization, obj=op)
    return len(ops)


def _object_pending(op, status) -> None:
    from mailherd.hosting.models import Alias, Mailbox

    kind, _, identifier = op.object_key.partition(":")
    model = {"mailbox": Mailbox, "alias": Alias}.get(kind)
    if model is not None:
        model.objects.filter(address=identifier).update(sync_status=status)
