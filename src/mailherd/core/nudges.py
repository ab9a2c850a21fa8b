"""Nudging a worker after a commit, at most one waiting nudge per queue.

Every change that writes outbox rows (or webhook deliveries) asks a worker to
drain them now. One task per change meant thousands of tasks that found
nothing to do after the first drain had taken every row. A nudge is queued
only when none is waiting: a flag in the shared cache, set when a task is
queued and cleared by the task before it starts draining, so a change
committed after the clear queues the next nudge and none is ever missed.

The flag expires by itself: a nudge lost with its broker holds nothing up
for longer than NUDGE_WAIT (the periodic drain catches up meanwhile).

A worker that drained a batch that was not full may wait a moment for more
changes (a script creating mailboxes one by one) instead of stopping: it takes
the queue's *settling turn*, and while one worker holds it, changes queue no
nudge at all: that worker takes them in its next batch. One worker at a time
holds the turn; two waiting on one trickle split it into batches half the
size, and each batch costs what a full one does to claim and complete. A
worker gives the turn back before its last look for rows, so a change that
skipped its nudge is always seen.
"""

import logging

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

NUDGE_WAIT = 10  # seconds a waiting nudge blocks the next one at most
SETTLE_TURN_SECONDS = 5  # a settling worker that died stops holding its turn after this


def _flag(queue: str) -> str:
    return f"nudge-waiting:{queue}"


def _settling(queue: str) -> str:
    return f"nudge-settling:{queue}"


def nudge_after_commit(kick) -> None:
    """Run `kick` once after the current transaction commits, however many rows it wrote."""
    connection = transaction.get_connection()
    if not any(entry[1] is kick for entry in connection.run_on_commit):
        transaction.on_commit(kick)


def nudge(task, queue: str) -> None:
    """Queue `task` unless a nudge for `queue` is already waiting; never raises."""
    try:
        if cache.get(_settling(queue)) is not None:
            return  # a worker is waiting for changes like this one: its next batch takes it
        if not cache.add(_flag(queue), 1, timeout=NUDGE_WAIT):
            return  # the waiting task will see this change: it starts draining after it clears the flag
    except Exception as exc:  # noqa: BLE001 - no cache: nudge every time, as before
        logger.warning("nudge flag unavailable (%s): nudging anyway", exc)
    try:
        task.delay()
    except Exception as exc:  # noqa: BLE001 - a broker outage must not fail the user's change
        nudge_taken(queue)
        logger.warning("could not nudge the %s worker: %s", queue, exc)


def nudge_taken(queue: str) -> None:
    """Called by the task before it drains: changes from now on queue a nudge of their own."""
    try:
        cache.delete(_flag(queue))
    except Exception as exc:  # noqa: BLE001 - the flag expires by itself
        logger.warning("nudge flag unavailable (%s)", exc)


def settle_turn(queue: str, worker: str) -> bool:
    """Take (or keep) the queue's settling turn for `worker`; False while another holds it."""
    try:
        holder = cache.get(_settling(queue))
        if holder == worker:
            cache.set(_settling(queue), worker, timeout=SETTLE_TURN_SECONDS)
            return True
        return holder is None and cache.add(_settling(queue), worker, timeout=SETTLE_TURN_SECONDS)
    except Exception as exc:  # noqa: BLE001 - no cache: every worker waits, and every change nudges
        logger.warning("settling turn unavailable (%s)", exc)
        return True


def settle_leave(queue: str, worker: str) -> None:
    """Give the turn back; the worker must look for rows once more after this (see above)."""
    try:
        if cache.get(_settling(queue)) == worker:
            cache.delete(_settling(queue))
    except Exception as exc:  # noqa: BLE001 - the turn expires by itself
        logger.warning("settling turn unavailable (%s)", exc)
