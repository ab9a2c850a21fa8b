"""Outbox correctness: one address's mailbox and alias rows in order; a stale claim cannot complete a row."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.models import Alias, Mailbox, ProvisioningOp
from mailherd.hosting.provisioning import (
    HANDLERS,
    Permanent,
    Transient,
    outbox_drain,
    outbox_process_batch,
    outbox_release_stale_claims,
)
from mailherd.mailcow.services import client_for
from tests.hosting.conftest import verified_domain

SYSTEM = Actor.system()


@pytest.mark.django_db
def test_a_retried_mailbox_delete_keeps_the_alias_of_the_same_address_waiting(tenants, mail_server, sim):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="x@acme.test", quota_mb=10)
    services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="y@acme.test", quota_mb=10)
    outbox_drain()
    # the mailbox becomes an alias: delete first, then create
    services.mailbox_delete(actor=SYSTEM, organization=tenants.acme, address="x@acme.test")
    services.alias_create(actor=SYSTEM, organization=tenants.acme, address="x@acme.test", goto=["y@acme.test"])
    sim.set_fault("http", status=503, scope="write", count=1)  # the delete meets a 503
    outbox_drain()
    alias_row = ProvisioningOp.objects.get(object_key="alias:x@acme.test")
    assert alias_row.status == "pending" and alias_row.attempts == 0  # waited, never tried
    assert Alias.objects.get(address="x@acme.test").sync_status == "pending"

    ProvisioningOp.objects.filter(status="pending").update(next_attempt_at=timezone.now())
    outbox_drain()
    assert ProvisioningOp.objects.exclude(status="done").count() == 0
    mailcow = client_for(mail_server)
    assert mailcow.get_mailbox("x@acme.test") is None
    assert mailcow.get_alias("x@acme.test").goto == ("y@acme.test",)
    assert Alias.objects.get(address="x@acme.test").sync_status == "active"


@pytest.mark.django_db
def test_an_alias_removed_for_a_mailbox_of_the_same_address_goes_first(tenants, mail_server, sim):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="y@acme.test", quota_mb=10)
    services.alias_create(actor=SYSTEM, organization=tenants.acme, address="x@acme.test", goto=["y@acme.test"])
    outbox_drain()
    services.alias_delete(actor=SYSTEM, organization=tenants.acme, address="x@acme.test")
    services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="x@acme.test", quota_mb=10)
    sim.set_fault("http", status=503, scope="write", count=1)
    outbox_drain()
    assert ProvisioningOp.objects.get(object_key="mailbox:x@acme.test").attempts == 0
    ProvisioningOp.objects.filter(status="pending").update(next_attempt_at=timezone.now())
    outbox_drain()
    assert ProvisioningOp.objects.filter(status="failed").count() == 0
    assert client_for(mail_server).get_mailbox("x@acme.test") is not None
    assert Mailbox.objects.get(address="x@acme.test").sync_status == "active"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("first_worker", "second_worker", "expected"),
    [
        ("done", "refused", "failed"),  # the first worker's late success must not hide the refusal
        ("retry", "done", "done"),  # nor its late error put an applied row back in line
        ("refused", "done", "done"),
    ],
)
def test_a_row_claimed_again_after_the_stale_timeout_is_completed_by_its_new_claim_only(
    tenants, mail_server, sim, monkeypatch, first_worker, second_worker, expected
):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="slow@acme.test", quota_mb=10)
    outbox_drain()
    services.mailbox_update(actor=SYSTEM, organization=tenants.acme, address="slow@acme.test", quota_mb=20)
    calls = []

    def outcome(name):
        if name == "refused":
            raise Permanent(f"refused ({len(calls)})")
        if name == "retry":
            raise Transient("timed out")

    def handler(op, client, server):
        calls.append(op.claim_token)
        if len(calls) == 1:
            # The first worker hangs past the stale-claim timeout; the row is released
            # and a second worker claims and finishes it meanwhile.
            ProvisioningOp.objects.filter(pk=op.pk).update(claimed_at=timezone.now() - timedelta(minutes=6))
            assert outbox_release_stale_claims() == 1
            assert outbox_process_batch() == 1
            outcome(first_worker)
        else:
            outcome(second_worker)

    monkeypatch.setitem(HANDLERS, ProvisioningOp.Kind.MAILBOX_UPDATE, handler)
    assert outbox_process_batch() == 1
    assert len(calls) == 2 and calls[0] != calls[1]  # two claims, two tokens
    row = ProvisioningOp.objects.get(kind="mailbox.update")
    assert row.status == expected
    if expected == "failed":
        assert row.last_error == "refused (2)"
        assert Mailbox.objects.get(address="slow@acme.test").sync_status == "error"
    else:
        assert row.last_error == ""
        assert Mailbox.objects.get(address="slow@acme.test").sync_status == "active"
    outbox_drain()
    assert len(calls) == 2  # nothing applied a third time


def _backlog(organization, size: int, start: int = 0) -> None:
    from mailherd.hosting.services.outbox import outbox_row

    ProvisioningOp.objects.bulk_create(
        [
            outbox_row(
                kind=ProvisioningOp.Kind.MAILBOX_CREATE,
                object_key=f"mailbox:u{n}@backlog.test",
                organization=organization,
                domain_name="backlog.test",
            )
            for n in range(start, start + size)
        ],
        batch_size=1000,
    )


def _claim_seconds() -> float:
    import time

    from django.db import transaction

    from mailherd.hosting.provisioning import _claim_batch

    best = float("inf")
    for _ in range(3):
        with transaction.atomic():
            started = time.perf_counter()
            claimed = _claim_batch(50)
            best = min(best, time.perf_counter() - started)
            assert len(claimed) == 50
            transaction.set_rollback(True)  # the same backlog for the next try
    return best


@pytest.mark.django_db
def test_a_claim_costs_about_the_same_with_a_long_backlog(tenants):
    """Ten times the waiting rows may not cost a hundred times a claim (each row once, not each pair)."""
    _backlog(tenants.acme, 200)
    short = _claim_seconds()
    _backlog(tenants.acme, 1800, start=200)
    long = _claim_seconds()
    assert long < 25 * short + 0.01, (short, long)


@pytest.mark.django_db
def test_a_claim_looks_at_the_oldest_rows_only_however_long_the_backlog(tenants):
    """A claim of 50 from 5,000 waiting rows costs about what it costs from 200 (it tested every
    waiting row: 30 ms a claim at 5,000 rows in the provisioning benchmark)."""
    from django.db import connection

    # Statistics from when the outbox was empty, as a database has them while a backlog builds.
    _backlog(tenants.acme, 200, start=10_000)
    ProvisioningOp.objects.update(status="done")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE hosting_provisioningop")
    _backlog(tenants.acme, 200)
    short = _claim_seconds()
    _backlog(tenants.acme, 4800, start=200)
    long = _claim_seconds()
    assert long < 4 * short + 0.005, (short, long)


@pytest.mark.django_db
def test_runnable_rows_behind_more_than_a_window_of_blocked_rows_are_claimed(tenants):
    from mailherd.hosting.provisioning import CLAIM_WINDOW, _claim_batch
    from mailherd.hosting.services.outbox import outbox_row

    # A domain whose own row waits (no server yet) holds back every row of its mailboxes.
    waiting = outbox_row(kind=ProvisioningOp.Kind.DOMAIN_CREATE, object_key="domain:backlog.test",
                         organization=tenants.acme, domain_name="backlog.test")
    waiting.next_attempt_at = timezone.now() + timedelta(hours=1)
    waiting.save()
    _backlog(tenants.acme, 2 * CLAIM_WINDOW + 7)
    ProvisioningOp.objects.bulk_create(
        [
            outbox_row(kind=ProvisioningOp.Kind.MAILBOX_CREATE, object_key=f"mailbox:u{n}@free.test",
                       organization=tenants.acme, domain_name="free.test")
            for n in range(3)
        ]
    )
    claimed = _claim_batch(50)
    assert [op.object_key for op in claimed] == [f"mailbox:u{n}@free.test" for n in range(3)]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_whose_rows_another_is_claiming_takes_the_next_ones(tenants):
    """It found nothing before, and stopped draining with thousands of rows left."""
    from django.db import connection

    from mailherd.hosting.provisioning import CLAIM_WINDOW, _claim_batch

    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises writers anyway)")
    import psycopg

    _backlog(tenants.acme, CLAIM_WINDOW + 60)
    first = list(ProvisioningOp.objects.order_by("id").values_list("id", flat=True)[:CLAIM_WINDOW])
    settings_dict = connection.settings_dict
    with psycopg.connect(
        dbname=settings_dict["NAME"], user=settings_dict["USER"], host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432, password=settings_dict["PASSWORD"] or None,
    ) as other_worker:
        other_worker.execute(
            "SELECT id FROM hosting_provisioningop WHERE id = ANY(%s) FOR UPDATE", [first]
        )  # in the middle of its claim
        claimed = _claim_batch(50)
        assert len(claimed) == 50
        assert min(op.id for op in claimed) > max(first)
