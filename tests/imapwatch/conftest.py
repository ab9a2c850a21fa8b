import asyncio
import threading
import time

import pytest

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services.mailboxes import mailbox_create
from mailherd.imapwatch import registry
from mailherd.imapwatch.engine import Watcher
from mailherd.mailcow.models import MailServer
from tests.hosting.conftest import sim, verified_domain  # noqa: F401


class RecordingHandler(registry.MessageHandler):
    """Writes an audit row per message, inside the watcher's transaction (as real handlers do)."""

    name = "test_recorder"

    def __init__(self):
        self.mailbox_pks: set[int] = set()
        self.on_handle = None

    def mailbox_ids(self):
        return set(self.mailbox_pks)

    def handle(self, message):
        audit_record(
            actor=Actor.system(),
            action="test.message_handled",
            organization=message.mailbox.organization,
            data={
                "key": message.key,
                "subject": message.subject,
                "folder": message.folder,
                "uid": message.uid,
            },
        )
        if self.on_handle:
            self.on_handle(message)


@pytest.fixture
def recorder():
    handler = registry.register(RecordingHandler())
    yield handler
    registry.unregister(handler.name)


def handled(subject_prefix: str = "") -> list[dict]:
    from mailherd.core.models import AuditEvent

    return [
        e.data
        for e in AuditEvent.objects.filter(action="test.message_handled").order_by("id")
        if e.data["subject"].startswith(subject_prefix)
    ]


@pytest.fixture
def imap_server(db, sim, dovecot):  # noqa: F811
    return MailServer.objects.create(
        name="dovecot",
        api_url=sim.url,
        api_key=sim.api_key,
        hostname="mail.provider.test",
        imap_host="127.0.0.1",
        imap_port=dovecot.imap_port,
    )


@pytest.fixture
def watched_mailbox(tenants, imap_server, sim, dovecot, recorder):  # noqa: F811
    """alice@acme-watch.test, created in the simulator, watched, its app password accepted by Dovecot."""
    from mailherd.imapwatch.services import watch_refresh

    verified_domain(tenants.acme, "acme-watch.test")
    outbox_drain()
    mailbox, _ = mailbox_create(
        actor=Actor.for_user(tenants.alice),
        organization=tenants.acme,
        address="alice@acme-watch.test",
        password="Str0ng-enough-pass",
        quota_mb=100,
    )
    outbox_drain()
    recorder.mailbox_pks.add(mailbox.pk)
    watch_refresh()
    outbox_drain()
    dovecot.sync_app_passwords(sim.state)
    mailbox.refresh_from_db()
    return mailbox


def message(subject: str, message_id: str, body: str = "Hello", extra: str = "") -> str:
    return (
        f"From: Sender <sender@outside.test>\nTo: alice@acme-watch.test\nSubject: {subject}\n"
        f"Message-ID: <{message_id}>\nDate: Tue, 01 Dec 2026 10:00:00 +0000\n{extra}\n{body}\n"
    )


class WatcherThread:
    """A Watcher on its own event loop in a thread, as `mailherd imap_watch` runs it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("poll_seconds", 1)
        kwargs.setdefault("rebalance_seconds", 0.3)
        self.watcher = None
        self.kwargs = kwargs
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error = None

    def _run(self):
        async def main():
            self.loop = asyncio.get_running_loop()
            self.watcher = Watcher(**self.kwargs)
            await self.watcher.run()

        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001
            self.error = exc

    def start(self):
        self.thread.start()
        deadline = time.monotonic() + 5
        while self.watcher is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self):
        if self.watcher is not None:
            self.loop.call_soon_threadsafe(self.watcher.stop)
        self.thread.join(timeout=20)
        assert not self.thread.is_alive(), "watcher did not stop"


def wait_for(predicate, timeout=15.0, interval=0.05):
    from django.db import OperationalError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OperationalError:  # shared in-memory SQLite: a writer holds the table
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting")
