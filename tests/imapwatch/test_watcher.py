"""The IMAP watcher against Debian's Dovecot: credential, exactly once, restarts, leases, backoff."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from mailherd.hosting.models import ProvisioningOp
from mailherd.hosting.provisioning import outbox_drain
from mailherd.imapwatch import credentials
from mailherd.imapwatch.models import FolderState, WatchedMailbox, WatchWorker
from mailherd.imapwatch.services import lease_balance, watch_refresh

from .conftest import WatcherThread, handled, message, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_watching_creates_an_imap_only_app_password_kept_encrypted(watched_mailbox, sim, dovecot):
    watched = WatchedMailbox.objects.get(mailbox=watched_mailbox)
    assert watched.credential_status == "active"
    [app_password] = [
        p for p in sim.state.app_passwords.values() if p.mailbox == watched_mailbox.address
    ]
    assert app_password.name == credentials.APP_PASSWORD_NAME
    assert app_password.protocols == {"imap_access"}
    assert watched.app_password_id == app_password.id
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT app_password FROM imapwatch_watchedmailbox WHERE id = %s", [watched.pk]
        )
        stored = cursor.fetchone()[0]
    assert watched.app_password not in stored  # encrypted at rest
    # Dovecot accepts it for IMAP
    dovecot.imap(watched_mailbox.address, watched.app_password).logout()


def test_each_new_message_is_handled_once_and_a_second_delivery_is_not(watched_mailbox, dovecot):
    dovecot.deliver(watched_mailbox.address, message("before the watch", "old@x"))
    runner = WatcherThread().start()
    try:
        wait_for(lambda: FolderState.objects.filter(folder="INBOX").exists())
        for number in range(3):
            dovecot.deliver(watched_mailbox.address, message(f"new {number}", f"new-{number}@x"))
        wait_for(lambda: len(handled("new")) == 3)
        dovecot.deliver(
            watched_mailbox.address, message("new 0", "new-0@x")
        )  # the same message again
        dovecot.deliver(watched_mailbox.address, message("after", "after@x"))
        wait_for(lambda: handled("after"))
    finally:
        runner.stop()
    subjects = [d["subject"] for d in handled()]
    assert subjects == [
        "new 0",
        "new 1",
        "new 2",
        "after",
    ]  # mail from before the watch began is left alone
    assert not WatchedMailbox.objects.filter(lease_owner__gt="").exists()  # a clean stop lets go


def test_idle_hands_over_within_a_second(watched_mailbox, dovecot):
    runner = WatcherThread(poll_seconds=600).start()  # no polling: only IDLE can notice
    try:
        wait_for(lambda: FolderState.objects.filter(folder="INBOX").exists())
        time.sleep(0.3)
        started = time.monotonic()
        dovecot.deliver(watched_mailbox.address, message("idle", "idle@x"))
        wait_for(lambda: handled("idle"), timeout=5, interval=0.01)
        assert time.monotonic() - started < 1.5
    finally:
        runner.stop()


@pytest.mark.parametrize("clean_stop", [True, False], ids=["stopped", "crashed"])
def test_restart_in_the_middle_of_a_batch_repeats_and_skips_nothing(
    watched_mailbox, dovecot, recorder, clean_stop
):
    runner = WatcherThread().start()
    wait_for(lambda: FolderState.objects.filter(folder="INBOX").exists())
    runner.stop()
    for number in range(40):
        dovecot.deliver(watched_mailbox.address, message(f"batch {number:02}", f"batch-{number}@x"))

    first = WatcherThread(worker_id="first")
    stopped = []

    def stop_midway(msg):
        if len(handled("batch")) == 12 and not stopped:
            stopped.append(msg.uid)
            # A crash: the tasks die mid-batch and nobody lets go of the lease.
            first.watcher.release_on_stop = clean_stop
            first.loop.call_soon_threadsafe(first.watcher.stop)

    recorder.on_handle = stop_midway
    first.start()
    first.thread.join(timeout=20)
    recorder.on_handle = None
    count_after_first = len(handled("batch"))
    assert 12 <= count_after_first < 40
    if not clean_stop:
        assert WatchedMailbox.objects.filter(lease_owner="first").exists()
        WatchedMailbox.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        WatchWorker.objects.filter(worker_id="first").update(
            heartbeat_at=timezone.now() - timedelta(hours=1)
        )

    second = WatcherThread(worker_id="second").start()
    try:
        wait_for(lambda: len(handled("batch")) >= 40)
        time.sleep(0.5)
    finally:
        second.stop()
    subjects = [d["subject"] for d in handled("batch")]
    assert subjects == [f"batch {n:02}" for n in range(40)]


def test_the_same_message_id_in_another_folder_counts_as_seen(watched_mailbox, dovecot, recorder):
    recorder.folders = lambda mailbox: {"INBOX", "Invoices"}
    type(recorder).folders = lambda self, mailbox: {"INBOX", "Invoices"}
    try:
        watched = WatchedMailbox.objects.get(mailbox=watched_mailbox)
        imap = dovecot.imap(watched_mailbox.address, watched.app_password)
        imap.create_folder("Invoices")
        runner = WatcherThread().start()
        try:
            wait_for(lambda: FolderState.objects.filter(folder="Invoices").exists())
            raw = message("filed", "filed@x").replace("\n", "\r\n").encode()
            imap.append("Invoices", raw)
            wait_for(lambda: handled("filed"))
            imap.append("INBOX", raw)  # a copy: same Message-ID
            dovecot.deliver(watched_mailbox.address, message("next", "next@x"))
            wait_for(lambda: handled("next"))
        finally:
            runner.stop()
            imap.logout()
        assert [d["folder"] for d in handled("filed")] == ["Invoices"]
    finally:
        del type(recorder).folders


def test_uidvalidity_change_reads_the_folder_again_without_repeats(watched_mailbox, dovecot):
    runner = WatcherThread().start()
    try:
        wait_for(lambda: FolderState.objects.filter(folder="INBOX").exists())
        dovecot.deliver(watched_mailbox.address, message("one", "one@x"))
        wait_for(lambda: handled("one"))
    finally:
        runner.stop()
    FolderState.objects.update(uidvalidity=1)  # as if the server renumbered the folder
    dovecot.deliver(watched_mailbox.address, message("two", "two@x"))
    runner = WatcherThread().start()
    try:
        wait_for(lambda: handled("two"))
        time.sleep(0.3)
    finally:
        runner.stop()
    assert [d["subject"] for d in handled()] == ["one", "two"]


def test_workers_share_the_mailboxes_and_take_over_from_a_dead_one(
    db, tenants, imap_server, recorder
):
    from mailherd.core.actors import Actor
    from mailherd.hosting.services.mailboxes import mailbox_create

    from .conftest import verified_domain

    verified_domain(tenants.acme, "acme-many.test")
    outbox_drain()
    for number in range(6):
        mailbox, _ = mailbox_create(
            actor=Actor.system(),
            organization=tenants.acme,
            address=f"m{number}@acme-many.test",
            password="Str0ng-enough-pass",
            quota_mb=10,
        )
        recorder.mailbox_pks.add(mailbox.pk)
    outbox_drain()
    watch_refresh()
    outbox_drain()
    assert WatchedMailbox.objects.filter(credential_status="active").count() == 6
    now = timezone.now()
    a = lease_balance(worker_id="a", capacity=100, now=now)
    assert len(a) == 6  # alone: holds all
    b = lease_balance(worker_id="b", capacity=100, now=now)
    assert b == []  # nothing free yet
    a = lease_balance(worker_id="a", capacity=100, now=now)
    assert len(a) == 3  # a gives back down to its fair share
    b = lease_balance(worker_id="b", capacity=100, now=now)
    assert len(b) == 3 and not set(a) & set(b)
    # a dies; once its lease runs out, b holds everything
    later = now + timedelta(seconds=120)
    b = lease_balance(worker_id="b", capacity=100, now=later)
    assert len(b) == 6
    # capacity caps what one worker holds
    assert len(lease_balance(worker_id="c", capacity=2, now=later + timedelta(seconds=200))) == 2


def test_a_server_that_is_down_is_retried_with_growing_waits(watched_mailbox, imap_server):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    imap_server.imap_port = closed_port
    imap_server.save()
    runner = WatcherThread().start()
    try:
        watched = wait_for(lambda: WatchedMailbox.objects.filter(failures__gte=1).first())
        assert "Connect" in watched.last_error or "refused" in watched.last_error.lower()
        first_wait = watched.retry_at - timezone.now()
        assert timedelta(seconds=3) < first_wait <= timedelta(seconds=7)
    finally:
        runner.stop()


def test_a_refused_login_makes_a_new_app_password(watched_mailbox, dovecot, sim):
    dovecot.set_password(watched_mailbox.address, "someone-changed-it")
    old = WatchedMailbox.objects.get(mailbox=watched_mailbox).app_password
    runner = WatcherThread().start()
    try:
        wait_for(lambda: WatchedMailbox.objects.filter(credential_status="pending").exists())
    finally:
        runner.stop()
    assert ProvisioningOp.objects.filter(kind=credentials.OP_CREATE, status="pending").exists()
    outbox_drain()
    watched = WatchedMailbox.objects.get(mailbox=watched_mailbox)
    assert watched.credential_status == "active" and watched.app_password != old
    ours = [p for p in sim.state.app_passwords.values() if p.name == credentials.APP_PASSWORD_NAME]
    assert len(ours) == 1  # the old one was removed


def test_unwatching_removes_the_app_password(watched_mailbox, sim, recorder):
    recorder.mailbox_pks.clear()
    assert watch_refresh() == (0, 1)
    outbox_drain()
    assert not WatchedMailbox.objects.exists()
    assert not [
        p for p in sim.state.app_passwords.values() if p.name == credentials.APP_PASSWORD_NAME
    ]
