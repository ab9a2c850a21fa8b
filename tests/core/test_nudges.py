"""A burst of changes queues one worker nudge, and no change is left without one."""

import pytest

from mailherd.core import nudges


class RecordingTask:
    """Stands in for a Celery task's `delay` (the broker itself is covered in test_worker.py)."""

    def __init__(self, fails: bool = False):
        self.queued = 0
        self.fails = fails

    def delay(self):
        if self.fails:
            raise ConnectionError("broker down")
        self.queued += 1


def test_many_changes_queue_one_nudge_until_a_worker_takes_it():
    task = RecordingTask()
    for _ in range(50):
        nudges.nudge(task, "outbox")
    assert task.queued == 1
    nudges.nudge_taken("outbox")  # a worker starts draining: later changes need a nudge of their own
    nudges.nudge(task, "outbox")
    assert task.queued == 2


def test_queues_do_not_share_a_nudge():
    task = RecordingTask()
    nudges.nudge(task, "outbox")
    nudges.nudge(task, "webhooks")
    assert task.queued == 2


def test_a_broker_outage_neither_fails_the_change_nor_blocks_the_next_nudge():
    nudges.nudge(RecordingTask(fails=True), "outbox")
    task = RecordingTask()
    nudges.nudge(task, "outbox")
    assert task.queued == 1


def test_without_a_cache_every_change_nudges(monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(nudges.cache, "add", broken)
    monkeypatch.setattr(nudges.cache, "delete", broken)
    task = RecordingTask()
    nudges.nudge(task, "outbox")
    nudges.nudge(task, "outbox")
    nudges.nudge_taken("outbox")
    assert task.queued == 2


@pytest.mark.django_db
def test_the_outbox_task_takes_the_nudge_before_it_drains(monkeypatch):
    from mailherd.hosting import tasks
    from mailherd.hosting.services.outbox import kick_worker

    task = RecordingTask()
    monkeypatch.setattr(tasks.outbox_process_task, "delay", task.delay)
    kick_worker()
    kick_worker()
    assert task.queued == 1
    tasks.outbox_process_task()  # what the worker runs: clears the flag, then drains
    kick_worker()
    assert task.queued == 2


def test_while_a_worker_waits_for_more_changes_they_queue_no_nudge():
    """The settling worker's next batch takes them; it gives the turn back before its last look."""
    task = RecordingTask()
    assert nudges.settle_turn("outbox", "worker-1")
    assert nudges.settle_turn("outbox", "worker-1")  # kept while it goes on waiting
    assert not nudges.settle_turn("outbox", "worker-2")  # one at a time
    nudges.nudge(task, "outbox")
    assert task.queued == 0
    nudges.nudge(task, "webhooks")  # another queue nudges as before
    assert task.queued == 1
    nudges.settle_leave("outbox", "worker-2")  # not its turn to give back
    nudges.nudge(task, "outbox")
    assert task.queued == 1
    nudges.settle_leave("outbox", "worker-1")
    nudges.nudge(task, "outbox")
    assert task.queued == 2
    assert nudges.settle_turn("outbox", "worker-2")
    nudges.settle_leave("outbox", "worker-2")
