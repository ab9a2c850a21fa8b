"""Flows 1–3 under stress: limits under concurrency, an outage, drift behind Mailherd's back."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.errors import PlanLimitExceeded
from mailherd.hosting.models import DriftReport, Mailbox, ProvisioningOp
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.reconciler import reconcile_server
from mailherd.mailcow.services import client_for
from tests.hosting.conftest import verified_domain

SYSTEM = Actor.system()


def _due_now():
    ProvisioningOp.objects.filter(status="pending").update(next_attempt_at=timezone.now())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_fifty_concurrent_creates_with_one_slot_left_let_exactly_one_through(tenants, mail_server):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises writers anyway)")
    verified_domain(tenants.acme, "acme.test")
    for number in range(9):
        services.mailbox_create(
            actor=SYSTEM, organization=tenants.acme, address=f"m{number}@acme.test", quota_mb=10
        )
    barrier = threading.Barrier(50)
    outcomes = []

    def create(number):
        try:
            barrier.wait()
            services.mailbox_create(
                actor=SYSTEM,
                organization=tenants.acme,
                address=f"race{number}@acme.test",
                quota_mb=10,
            )
            outcomes.append("created")
        except PlanLimitExceeded:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("created") == 1 and outcomes.count("refused") == 49
    assert Mailbox.objects.filter(organization=tenants.acme).count() == 10


@pytest.mark.django_db
def test_changes_made_while_mailcow_is_down_are_all_applied_once_when_it_returns(
    tenants, mail_server, sim
):
    verified_domain(tenants.acme, "acme.test")
    outbox_drain()
    tenants.acme.plan.max_mailboxes = 500
    tenants.acme.plan.max_aliases = 500
    tenants.acme.plan.max_storage_mb = 100_000
    tenants.acme.plan.save()
    services.organization_limits_changed(actor=SYSTEM, organization=tenants.acme)
    sim.set_fault("down")
    # 200 changes: 120 creates, 40 updates, 20 deletes, 20 aliases
    for number in range(120):
        services.mailbox_create(
            actor=SYSTEM, organization=tenants.acme, address=f"u{number}@acme.test", quota_mb=10
        )
    for number in range(40):
        services.mailbox_update(
            actor=SYSTEM, organization=tenants.acme, address=f"u{number}@acme.test", quota_mb=20
        )
    for number in range(100, 120):
        services.mailbox_delete(
            actor=SYSTEM, organization=tenants.acme, address=f"u{number}@acme.test"
        )
    for number in range(20):
        services.alias_create(
            actor=SYSTEM,
            organization=tenants.acme,
            address=f"a{number}@acme.test",
            goto=[f"u{number}@acme.test"],
        )
    outbox_drain(max_seconds=20)
    assert (
        Mailbox.objects.filter(sync_status="pending").count() == 100
    )  # shown as pending, nothing lost
    assert ProvisioningOp.objects.filter(status="failed").count() == 0
    assert ProvisioningOp.objects.filter(status="pending").exclude(last_error="").exists()

    sim.clear_faults()
    sim.clear_requests()
    _due_now()
    outbox_drain()
    assert ProvisioningOp.objects.exclude(status="done").count() == 0
    mailcow = client_for(mail_server)
    remote = {m.address: m for m in mailcow.list_mailboxes("acme.test")}
    assert set(remote) == {f"u{n}@acme.test" for n in range(100)}
    assert all(remote[f"u{n}@acme.test"].quota_bytes == 20 * 1024 * 1024 for n in range(40))
    assert len(mailcow.list_aliases("acme.test")) == 20
    # none twice: exactly one add per mailbox and alias reached Mailcow after it came back
    requests = sim.requests()
    assert requests.get("add/mailbox", 0) == 100
    assert requests.get("add/alias", 0) == 20
    assert Mailbox.objects.filter(sync_status="active").count() == 100


@pytest.mark.django_db
def test_a_retry_after_a_lost_answer_does_not_create_twice(tenants, mail_server, sim):
    verified_domain(tenants.acme, "acme.test")
    outbox_drain()
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="once@acme.test", quota_mb=10
    )
    op = ProvisioningOp.objects.get(object_key="mailbox:once@acme.test")
    # Mailcow created it, but Mailherd never heard back: the row is still pending.
    client_for(mail_server).add_mailbox("once@acme.test", password="Another-pass-123", quota_mib=10)
    outbox_drain()
    op.refresh_from_db()
    assert op.status == "done"
    assert len(client_for(mail_server).list_mailboxes("acme.test")) == 1


@pytest.mark.django_db
def test_mailcow_refusals_are_parked_and_shown(tenants, mail_server, sim):
    verified_domain(tenants.acme, "acme.test")
    outbox_drain()
    # someone made the address an alias on the server, behind Mailherd's back
    client_for(mail_server).add_alias("x@acme.test", ["y@acme.test"])
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="x@acme.test", quota_mb=10
    )
    outbox_drain()
    mailbox = Mailbox.objects.get(address="x@acme.test")
    assert mailbox.sync_status == "error" and mailbox.last_error
    op = ProvisioningOp.objects.get(object_key="mailbox:x@acme.test")
    assert op.status == "failed"


@pytest.mark.django_db
def test_a_database_error_inside_200_is_retried_not_parked(tenants, mail_server, sim):
    verified_domain(tenants.acme, "acme.test")
    outbox_drain()
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="x@acme.test", quota_mb=10
    )
    sim.set_fault("error_in_200", count=1, scope="write")
    outbox_drain()
    assert ProvisioningOp.objects.get(object_key="mailbox:x@acme.test").status == "pending"
    _due_now()
    outbox_drain()
    assert Mailbox.objects.get(address="x@acme.test").sync_status == "active"


@pytest.mark.django_db
def test_drift_is_repaired_or_reported(tenants, mail_server, sim):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="kept@acme.test", quota_mb=100
    )
    _gone, gone_password = services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="gone@acme.test", quota_mb=100
    )
    services.alias_create(
        actor=SYSTEM, organization=tenants.acme, address="al@acme.test", goto=["kept@acme.test"]
    )
    outbox_drain()
    mailcow = client_for(mail_server)
    # behind Mailherd's back: resize, disable, delete, re-point, and add a stranger
    mailcow.edit_mailbox("kept@acme.test", quota_mib=5, active=0)
    mailcow.delete_mailbox("gone@acme.test")
    mailcow.edit_alias("al@acme.test", goto=["gone@acme.test"])
    mailcow.add_mailbox("stranger@acme.test", password="Stranger-pass-1", quota_mib=10)
    sim.clear_requests()

    result = reconcile_server(server=mail_server)
    assert sim.request_count() == 4  # three list calls and one DKIM read per domain, not one per object
    assert len(result.repaired) == 3
    assert result.unknown == ["mailbox stranger@acme.test"]
    assert DriftReport.objects.filter(
        kind="unknown_mailbox", identifier="stranger@acme.test", resolved_at__isnull=True
    ).exists()

    outbox_drain()
    kept = mailcow.get_mailbox("kept@acme.test")
    assert kept.quota_bytes == 100 * 1024 * 1024 and int(kept.active) == 1
    assert mailcow.get_alias("al@acme.test").goto == ("kept@acme.test",)
    # the deleted mailbox is re-created with its stored hash: the user's password still logs in
    assert Mailbox.objects.get(address="gone@acme.test").sync_status == "active"
    assert sim.login("gone@acme.test", gone_password)


@pytest.mark.django_db
def test_nothing_is_lost_without_a_server_and_all_is_applied_when_one_is_added(
    tenants, sim, settings
):
    from mailherd.mailcow.models import MailServer

    domain = verified_domain(tenants.acme, "early.test")
    assert domain.mail_server is None
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="first@early.test", quota_mb=10
    )
    outbox_drain()
    assert ProvisioningOp.objects.filter(status="pending").count() == 2
    assert "waiting for a Mailcow server" in ProvisioningOp.objects.first().last_error
    server = MailServer.objects.create(
        name="late", api_url=sim.url, api_key=sim.api_key, hostname="mx.late.test"
    )
    ProvisioningOp.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    outbox_drain()
    assert client_for(server).get_mailbox("first@early.test") is not None
    tenants.acme.refresh_from_db()
    assert tenants.acme.mail_server == server


@pytest.mark.django_db
def test_the_operator_can_retry_or_discard_parked_rows(tenants, mail_server, sim, operator_user, client):
    verified_domain(tenants.acme, "acme.test")
    outbox_drain()
    client_for(mail_server).add_alias("x@acme.test", ["y@acme.test"])  # a clash made behind Mailherd's back
    services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="x@acme.test", password="Strong-pass-123", quota_mb=10)
    outbox_drain()
    op = ProvisioningOp.objects.get(object_key="mailbox:x@acme.test", status="failed")
    # the operator removes the clash on the server, then retries from the back office
    client_for(mail_server).delete_alias("x@acme.test")
    from tests.operator.fixtures import sign_in_with_two_factor, with_two_factor

    sign_in_with_two_factor(client, with_two_factor(operator_user))
    response = client.post("/operator/hosting/provisioningop/", {"action": "retry", "_selected_action": [op.pk]})
    assert response.status_code == 302
    outbox_drain()
    assert Mailbox.objects.get(address="x@acme.test").sync_status == "active"
    op.refresh_from_db()
    assert op.status == "done"
    # a row that cannot be applied can be discarded
    client_for(mail_server).add_alias("z@acme.test", ["y@acme.test"])
    services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="z@acme.test", password="Strong-pass-123", quota_mb=10)
    outbox_drain()
    parked = ProvisioningOp.objects.get(object_key="mailbox:z@acme.test", status="failed")
    client.post("/operator/hosting/provisioningop/", {"action": "discard", "_selected_action": [parked.pk], "confirmed": "yes"})
    parked.refresh_from_db()
    assert parked.status == "done"
    assert parked.last_error.startswith("discarded by ops@operator.test")


@pytest.mark.django_db
def test_mailbox_usage_is_refreshed_from_mailcow(tenants, mail_server, sim, alice_client):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="full@acme.test", quota_mb=100)
    outbox_drain()
    sim.set_usage("full@acme.test", quota_used=75 * 1024 * 1024, messages=1234)
    from mailherd.hosting.tasks import reconcile_task

    assert reconcile_task() == 1
    mailbox = Mailbox.objects.get(address="full@acme.test")
    assert (mailbox.quota_used_bytes, mailbox.messages, mailbox.usage_percent) == (75 * 1024 * 1024, 1234, 75)
    page = alice_client.get("/o/acme/mailboxes/full@acme.test/").content.decode()
    assert "75 MiB used · 1234 messages" in page  # the landing page's units


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_apply_each_change_once_and_in_order(tenants, mail_server, sim):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent workers need PostgreSQL")
    verified_domain(tenants.acme, "acme.test")
    tenants.acme.plan.max_mailboxes = 200
    tenants.acme.plan.max_storage_mb = 100_000
    tenants.acme.plan.save()
    outbox_drain()
    for number in range(60):
        services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address=f"w{number}@acme.test", quota_mb=10)
    for size in (20, 30, 40):  # three changes per mailbox: only the last may win
        for number in range(60):
            services.mailbox_update(actor=SYSTEM, organization=tenants.acme, address=f"w{number}@acme.test", quota_mb=size)
    sim.clear_requests()

    def work():
        try:
            outbox_drain()
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    outbox_drain()
    assert ProvisioningOp.objects.exclude(status="done").count() == 0
    assert sim.requests().get("add/mailbox", 0) == 60
    remote = client_for(mail_server).list_mailboxes("acme.test")
    assert {m.quota_bytes for m in remote} == {40 * 1024 * 1024}
    assert Mailbox.objects.filter(sync_status="active").count() == 60


@pytest.mark.django_db
def test_rows_waiting_for_a_server_do_not_crowd_out_other_work(tenants, sim):
    from mailherd.hosting.provisioning import outbox_process_batch
    from mailherd.mailcow.models import MailServer

    # Acme has no server yet: its domain row waits, and 300 mailbox rows wait behind it.
    verified_domain(tenants.acme, "waiting.test")
    tenants.acme.plan.max_mailboxes = 500
    tenants.acme.plan.max_storage_mb = 100_000
    tenants.acme.plan.save()
    for number in range(300):
        services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address=f"w{number}@waiting.test", quota_mb=1)
    outbox_drain()
    # Then Globex gets a server and a mailbox: its rows run although 300 older rows wait.
    server = MailServer.objects.create(name="sim", api_url=sim.url, api_key=sim.api_key, hostname="mx.test")
    MailServer.objects.filter(pk=server.pk).update(capacity_mailboxes=1)  # full: Acme is not placed on it
    tenants.globex.mail_server = server
    tenants.globex.save()
    verified_domain(tenants.globex, "globex.test")
    services.mailbox_create(actor=SYSTEM, organization=tenants.globex, address="g@globex.test", quota_mb=1)
    for _ in range(3):
        outbox_process_batch()
    assert Mailbox.objects.get(address="g@globex.test").sync_status == "active"
    assert Mailbox.objects.filter(address__endswith="@waiting.test", sync_status="pending").count() == 300


@pytest.mark.django_db
def test_a_deactivated_organizations_domain_is_not_drift(tenants, mail_server, sim):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="a@acme.test", quota_mb=10)
    outbox_drain()
    from mailherd.hosting.services.suspension import organization_mail_deactivate

    organization_mail_deactivate(actor=SYSTEM, organization_id=tenants.acme.pk)
    outbox_drain()
    assert client_for(mail_server).get_domain("acme.test").active is False
    assert reconcile_server(server=mail_server).repaired == []
