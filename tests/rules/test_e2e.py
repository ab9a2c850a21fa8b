"""Must show, on real services: a rule on the simulator's Sieve and Debian's Dovecot, tasks that
appear within seconds and once, a signed webhook that survives three 500s, and a watcher restart
in the middle of a batch that repeats and skips nothing."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services.mailboxes import mailbox_create
from mailherd.imapwatch.models import FolderState, SeenMessage, WatchedMailbox
from mailherd.rules import services
from mailherd.rules.models import Note, Task
from mailherd.webhooks.delivery import deliveries_run
from mailherd.webhooks.models import WebhookDelivery
from tests.imapwatch.conftest import WatcherThread, imap_server, wait_for  # noqa: F401
from tests.webhooks.conftest import receiver  # noqa: F401

from .conftest import on_plan, verified_domain

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ADDRESS = "alice@acme-watch.test"


@pytest.fixture
def mailbox(tenants, imap_server, sim, dovecot):  # noqa: F811
    on_plan(tenants.acme)
    verified_domain(tenants.acme, "acme-watch.test")
    outbox_drain()
    mailbox, _ = mailbox_create(
        actor=Actor.for_user(tenants.alice),
        organization=tenants.acme,
        address=ADDRESS,
        password="Str0ng-enough-pass",
        quota_mb=100,
    )
    outbox_drain()
    return mailbox


def make_rule(tenants, sim, dovecot, **kwargs):
    rule = services.rule_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, **kwargs
    )
    outbox_drain()  # the Sieve script, then the watcher's app password
    outbox_drain()
    dovecot.sync_app_passwords(sim.state)
    assert WatchedMailbox.objects.get(mailbox__address=ADDRESS).credential_status == "active"
    return rule


def message(subject, message_id, body="Please pay by 24 December 2026.", extra=""):
    return (
        f"From: Supplier <billing@supplier.test>\nTo: {ADDRESS}\nSubject: {subject}\n"
        f"Message-ID: <{message_id}>\nDate: Tue, 01 Dec 2026 10:00:00 +0000\n{extra}\n{body}\n"
    )


def test_invoice_becomes_one_task_and_the_server_forwards_it(
    mailbox, tenants, sim, dovecot, client
):
    rule = make_rule(
        tenants,
        sim,
        dovecot,
        mailbox=ADDRESS,
        name="Invoices",
        conditions=[{"field": "subject", "op": "contains", "value": "invoice"}],
        actions=[
            {"type": "task"},
            {"type": "forward", "to": ["accounting@acme-watch.test"], "keep_copy": True},
        ],
    )
    rule.refresh_from_db()
    assert rule.status == "active"
    [script] = [f for f in sim.state.filters.values() if f.username == ADDRESS]
    assert 'redirect :copy "accounting@acme-watch.test"' in script.script_data
    assert 'header :contains ["subject"] "invoice"' in script.script_data

    runner = WatcherThread().start()
    try:
        wait_for(lambda: FolderState.objects.filter(folder="INBOX").exists())
        started = time.monotonic()
        dovecot.deliver(ADDRESS, message("Invoice 2026-117", "inv-117@supplier.test"))
        task = wait_for(lambda: Task.objects.first(), timeout=10)
        elapsed = time.monotonic() - started
        dovecot.deliver(ADDRESS, message("Invoice 2026-117", "inv-117@supplier.test"))  # again
        dovecot.deliver(ADDRESS, message("Lunch on Friday?", "lunch@supplier.test"))
        wait_for(lambda: SeenMessage.objects.filter(message_key="<lunch@supplier.test>").exists())
        time.sleep(0.3)
    finally:
        runner.stop()
    assert elapsed < 5
    assert Task.objects.count() == 1  # twice delivered, one task; the lunch mail matched nothing
    assert task.title == "Invoice 2026-117" and task.sender == "billing@supplier.test"
    assert task.status == "open" and task.rule_id == rule.pk
    assert str(task.due_date) == "2026-12-24"  # named in the body
    assert "Please pay" in task.text
    client.force_login(tenants.alice)
    page = client.get(f"/o/{tenants.acme.slug}/tasks/")
    assert page.status_code == 200 and "Invoice 2026-117" in page.content.decode()


def test_a_deleted_rule_stops_at_once_and_ignored_mail_is_never_a_task(
    mailbox, tenants, sim, dovecot
):
    make_rule(tenants, sim, dovecot, mailbox=ADDRESS, name="Notes", actions=[{"type": "note"}])
    ignore = services.rule_create(
        actor=Actor.system(),
        organization=tenants.acme,
        mailbox=ADDRESS,
        name="Ignore spam",
        priority=1,
        conditions=[{"field": "subject", "op": "starts_with", "value": "[spam]"}],
        actions=[{"type": "discard"}],
    )
    outbox_drain()
    runner = WatcherThread().start()
    try:
        wait_for(lambda: FolderState.objects.filter(folder="INBOX").exists())
        # Dovecot here runs no Sieve: the watcher must still never make ignored mail a note.
        dovecot.deliver(ADDRESS, message("[spam] cheap pills", "spam@x"))
        dovecot.deliver(ADDRESS, message("Meeting notes", "notes@x"))
        wait_for(lambda: Note.objects.filter(title="Meeting notes").exists())
        services.rule_delete(
            actor=Actor.system(), organization=tenants.acme, rule_id=Note.objects.get().rule_id
        )
        dovecot.deliver(ADDRESS, message("After the delete", "after@x"))
        time.sleep(2)  # the watch stops (no rule needs it) or reads it: either way, no note
    finally:
        runner.stop()
    assert list(Note.objects.values_list("title", flat=True)) == ["Meeting notes"]
    assert ignore.pk


def test_webhook_arrives_signed_once_after_three_500s(mailbox, tenants, sim, dovecot, receiver):  # noqa: F811
    rule = make_rule(
        tenants,
        sim,
        dovecot,
        mailbox=ADDRESS,
        name="To our ticket system",
        conditions=[{"field": "attachment", "value": True}],
        actions=[{"type": "webhook", "url": receiver.url}],
    )
    receiver.secret = rule.webhook_secret
    receiver.answers = [500, 500, 500]
    attachment = (
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n',
        "--b\nContent-Type: text/plain\n\nSee attached.\n--b\nContent-Type: application/pdf\n"
        'Content-Disposition: attachment; filename="order.pdf"\nContent-Transfer-Encoding: base64\n\n'
        "JVBERi0xLjQK\n--b--\n",
    )
    runner = WatcherThread().start()
    try:
        wait_for(lambda: FolderState.objects.filter(folder="INBOX").exists())
        dovecot.deliver(
            ADDRESS, message("Order 5", "order-5@x", body=attachment[1], extra=attachment[0])
        )
        dovecot.deliver(ADDRESS, message("No attachment", "plain@x"))
        wait_for(lambda: SeenMessage.objects.filter(message_key="<plain@x>").exists())
    finally:
        runner.stop()
    now = timezone.now()
    for _ in range(10):
        deliveries_run(now=now)
        pending = WebhookDelivery.objects.filter(status="pending").first()
        if pending is None:
            break
        now = max(now, pending.next_attempt_at) + timedelta(seconds=1)
    deliveries_run(now=now + timedelta(days=2))
    assert receiver.requests == 4 and receiver.refused == 0
    [event] = receiver.received
    assert event["type"] == "rule.matched"
    data = event["data"]
    assert data["rule"] == {"id": rule.pk, "name": "To our ticket system"}
    assert data["subject"] == "Order 5" and data["from"] == "billing@supplier.test"
    assert data["to"] == [ADDRESS] and "See attached." in data["text"]
    assert data["attachments"] == [
        {"filename": "order.pdf", "content_type": "application/pdf", "size": 9}
    ]
    assert {"name": "Message-ID", "value": "<order-5@x>"} in data["headers"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.source == f"rule:{rule.pk}" and delivery.status == "succeeded"
    assert [a.status_code for a in delivery.attempt_log.all()] == [500, 500, 500, 200]


@pytest.mark.parametrize("clean_stop", [True, False], ids=["stopped", "crashed"])
def test_restart_in_the_middle_of_a_batch_repeats_and_skips_nothing(
    mailbox, tenants, sim, dovecot, monkeypatch, clean_stop
):
    make_rule(tenants, sim, dovecot, mailbox=ADDRESS, name="Everything", actions=[{"type": "task"}])
    runner = WatcherThread().start()
    wait_for(lambda: FolderState.objects.filter(folder="INBOX").exists())
    runner.stop()
    for number in range(30):
        dovecot.deliver(ADDRESS, message(f"batch {number:02}", f"batch-{number}@x"))

    first = WatcherThread(worker_id="first")
    original = services.message_apply
    stopped = []

    def apply_then_stop(msg):
        made = original(msg)
        if Task.objects.count() >= 9 and not stopped:
            stopped.append(msg.uid)
            first.watcher.release_on_stop = clean_stop
            first.loop.call_soon_threadsafe(first.watcher.stop)
        return made

    monkeypatch.setattr(services, "message_apply", apply_then_stop)
    first.start()
    first.thread.join(timeout=30)
    monkeypatch.setattr(services, "message_apply", original)
    after_first = Task.objects.count()
    assert 9 <= after_first < 30
    if not clean_stop:
        from mailherd.imapwatch.models import WatchWorker

        WatchedMailbox.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        WatchWorker.objects.filter(worker_id="first").update(
            heartbeat_at=timezone.now() - timedelta(hours=1)
        )
    second = WatcherThread(worker_id="second").start()
    try:
        wait_for(lambda: Task.objects.count() >= 30, timeout=30)
        time.sleep(0.5)
    finally:
        second.stop()
    titles = sorted(Task.objects.values_list("title", flat=True))
    assert titles == [f"batch {n:02}" for n in range(30)]


def test_test_a_rule_reads_the_last_messages_and_changes_nothing(
    mailbox, tenants, sim, dovecot, client
):
    make_rule(tenants, sim, dovecot, mailbox=ADDRESS, name="Notes", actions=[{"type": "note"}])
    for subject in ("Invoice 1", "Hello", "INVOICE 2"):
        dovecot.deliver(ADDRESS, message(subject, f"{subject}@x"))
    result = services.rule_test(
        organization=tenants.acme,
        mailbox=ADDRESS,
        conditions=[{"field": "subject", "op": "contains", "value": "invoice"}],
    )
    assert result["ready"] and result["checked"] == 3 and result["matched"] == 2
    assert [(m["subject"], m["matches"]) for m in result["messages"]] == [
        ("INVOICE 2", True),
        ("Hello", False),
        ("Invoice 1", True),
    ]
    client.force_login(tenants.alice)
    page = client.post(
        f"/o/{tenants.acme.slug}/rules/new/",
        {"do": "test", "name": "", "scope": f"m:{ADDRESS}", "match": "all",
         "cond_field_0": "from", "cond_op_0": "is", "cond_value_0": "billing@supplier.test",
         "cond_header_0": "", "act_type_0": "", "act_value_0": ""},
    ).content.decode()  # fmt: skip
    assert "<strong>3</strong> of the last 3 messages" in page
    assert Note.objects.count() == 0
