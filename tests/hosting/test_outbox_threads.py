"""A worker sends the rows of one batch to Mailcow side by side, and records each outcome as before."""

import threading
import time

import pytest
from django.db import connection, transaction

from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.models import Mailbox, ProvisioningOp
from mailherd.hosting.provisioning import HANDLERS, Permanent, Transient, outbox_drain
from mailherd.mailcow.services import client_for
from tests.hosting.conftest import verified_domain

SYSTEM = Actor.system()


class Gauge:
    """Wraps the real mailbox handler: counts how many run at once, and makes two rows fail."""

    def __init__(self, real):
        self.real = real
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.clients: dict[int, set[int]] = {}  # thread -> the clients it was given

    def __call__(self, op, client, server):
        with self.lock:
            self.clients.setdefault(threading.get_ident(), set()).add(id(client))
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.05)  # a real Mailcow answers in tens of milliseconds
            if op.object_key == "mailbox:refused@acme.test":
                raise Permanent("Mailcow refused it")
            if op.object_key == "mailbox:later@acme.test":
                raise Transient("Mailcow timed out")
            return self.real(op, client, server)
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def gauge(monkeypatch):
    gauge = Gauge(HANDLERS[ProvisioningOp.Kind.MAILBOX_CREATE])
    monkeypatch.setitem(HANDLERS, ProvisioningOp.Kind.MAILBOX_CREATE, gauge)
    return gauge


def _create(tenants, names):
    for name in names:
        services.mailbox_create(
            actor=SYSTEM, organization=tenants.acme, address=f"{name}@acme.test", quota_mb=10
        )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_batch_goes_to_mailcow_side_by_side_and_each_outcome_is_kept(
    tenants, mail_server, sim, gauge, settings
):
    settings.MAILHERD_OUTBOX_THREADS = 8
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("an in-memory SQLite database is applied one row at a time (see _threads_can_share)")
    verified_domain(tenants.acme, "acme.test")
    outbox_drain()
    names = [f"user{n}" for n in range(8)] + ["refused", "later"]  # the Starter plan's 10
    _create(tenants, names)
    started = time.monotonic()
    outbox_drain()
    elapsed = time.monotonic() - started
    assert gauge.most > 1
    assert elapsed < 10 * 0.05  # one at a time would take 0.5 s at least
    # Each thread has a client (a connection pool) of its own: one shared client made the
    # threads queue on its pool's lock.
    assert all(len(clients) == 1 for clients in gauge.clients.values())
    assert len(set().union(*gauge.clients.values())) == len(gauge.clients) > 1
    client = client_for(mail_server)
    for n in range(8):
        assert client.get_mailbox(f"user{n}@acme.test") is not None
        assert Mailbox.objects.get(address=f"user{n}@acme.test").sync_status == "active"
    refused = ProvisioningOp.objects.get(object_key="mailbox:refused@acme.test")
    assert (refused.status, refused.last_error) == ("failed", "Mailcow refused it")
    assert Mailbox.objects.get(address="refused@acme.test").sync_status == "error"
    later = ProvisioningOp.objects.get(object_key="mailbox:later@acme.test")
    assert (later.status, later.last_error) == ("pending", "Mailcow timed out")
    assert Mailbox.objects.get(address="later@acme.test").sync_status == "pending"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_inside_a_transaction_the_rows_go_one_at_a_time(tenants, mail_server, sim, gauge, settings):
    """Threads have connections of their own, which could not see the caller's uncommitted rows."""
    settings.MAILHERD_OUTBOX_THREADS = 8
    verified_domain(tenants.acme, "acme.test")
    outbox_drain()
    with transaction.atomic():
        _create(tenants, ["a", "b", "c", "d"])
        outbox_drain()
    assert gauge.most == 1
    assert set(Mailbox.objects.values_list("sync_status", flat=True)) == {"active"}


@pytest.mark.django_db
def test_one_worker_at_a_time_waits_for_a_trickle_of_changes(tenants, mail_server, sim):
    """After a batch that was not full, a worker waits for more rows only when no other worker
    does: two workers waiting split a trickle into batches half the size."""
    from mailherd.core.nudges import settle_leave, settle_turn

    verified_domain(tenants.acme, "acme.test")
    outbox_drain()
    settle = 0.5
    assert settle_turn("outbox", "another worker")
    _create(tenants, ["one"])
    started = time.monotonic()
    assert outbox_drain(settle_seconds=settle) == 1
    assert time.monotonic() - started < settle  # applied its row and left the waiting to the other
    assert not settle_turn("outbox", "a third worker")  # the other still has the turn

    settle_leave("outbox", "another worker")
    _create(tenants, ["two"])
    started = time.monotonic()
    assert outbox_drain(settle_seconds=settle) == 1
    assert time.monotonic() - started >= settle  # nobody else waiting: it waited for more
    assert settle_turn("outbox", "a third worker")  # and gave the turn back when it stopped
    settle_leave("outbox", "a third worker")
    assert set(Mailbox.objects.values_list("sync_status", flat=True)) == {"active"}


@pytest.mark.django_db
def test_a_drain_looks_up_each_domains_server_once_not_once_a_batch(tenants, mail_server, sim, monkeypatch):
    from django.test.utils import CaptureQueriesContext

    import mailherd.hosting.provisioning as provisioning

    verified_domain(tenants.acme, "acme.test")
    outbox_drain()
    _create(tenants, ["a", "b", "c", "d"])
    monkeypatch.setattr(provisioning, "BATCH_SIZE", 1)
    with CaptureQueriesContext(connection) as queries:
        assert outbox_drain() == 4  # four batches of one row
    lookups = sum('FROM "mailcow_mailserver"' in q["sql"] or 'JOIN "mailcow_mailserver"' in q["sql"] for q in queries)
    assert lookups == 1
    assert set(Mailbox.objects.values_list("sync_status", flat=True)) == {"active"}
