"""The watcher's writes: which mailboxes are watched, leases, and handling one message.

All of it is plain synchronous Django code; the asyncio engine (engine.py)
calls it from one database thread.
"""

from __future__ import annotations

import logging
import math
import random
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from mailherd.hosting.models import Mailbox
from mailherd.imapwatch import credentials
from mailherd.imapwatch.message import IncomingMessage
from mailherd.imapwatch.models import FolderState, SeenMessage, WatchedMailbox, WatchWorker
from mailherd.imapwatch.registry import handlers, wanted_mailbox_ids

logger = logging.getLogger(__name__)

LEASE_SECONDS = 60
# A message whose handlers keep failing is given up after this many tries (logged), so
# one bad message cannot stop a mailbox forever.
MAX_HANDLER_ATTEMPTS = 3
BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 300


# -- which mailboxes are watched ---------------------------------------------------------


def watch_refresh(*, mailbox_ids: list[int] | None = None) -> tuple[int, int]:
    """Watch what the handlers want, stop watching the rest; return (started, stopped).

    With `mailbox_ids`, only those mailboxes are looked at (a rule of theirs changed).
    Starting queues Mailherd's own IMAP-only app password through the outbox;
    stopping queues its removal.
    """
    wanted = set(wanted_mailbox_ids())
    current = WatchedMailbox.objects.all()
    if mailbox_ids is not None:
        current = current.filter(mailbox_id__in=mailbox_ids)
        wanted &= set(mailbox_ids)
    watched = set(current.values_list("mailbox_id", flat=True))
    started = stopped = 0
    for mailbox in Mailbox.objects.select_related("domain", "organization").filter(
        pk__in=wanted - watched
    ):
        with transaction.atomic():
            try:
                with transaction.atomic():
                    item = WatchedMailbox.objects.create(
                        mailbox=mailbox, app_password=credentials.new_password()
                    )
            except IntegrityError:
                continue  # another process started it first
            item.mailbox = mailbox
            credentials.queue_create(item)
            started += 1
    for item in WatchedMailbox.objects.select_related(
        "mailbox__domain", "mailbox__organization"
    ).filter(mailbox_id__in=watched - wanted):
        with transaction.atomic():
            credentials.queue_delete(item.mailbox)
            item.delete()
            stopped += 1
    return started, stopped


def watch_renew_credential(*, watched_id: int) -> None:
    """The server refused our password (removed by the user?): make a new one."""
    with transaction.atomic():
        item = WatchedMailbox.objects.select_related(
            "mailbox__domain", "mailbox__organization"
        ).get(pk=watched_id)
        item.app_password = credentials.new_password()
        item.credential_status = WatchedMailbox.CredentialStatus.PENDING
        item.save(update_fields=["app_password", "credential_status"])
        credentials.queue_create(item)


# -- leases ------------------------------------------------------------------------------


def lease_balance(*, worker_id: str, capacity: int, now: datetime | None = None) -> list[int]:
    """Renew this worker's leases and take or give back mailboxes to hold its fair share.

    Fair share: the ready mailboxes divided by the live workers (heartbeat within a
    lease), at most `capacity`. Returns the ids of the WatchedMailboxes it holds.
    """
    now = now or timezone.now()
    expires = now + timedelta(seconds=LEASE_SECONDS)
    WatchWorker.objects.update_or_create(
        worker_id=worker_id, defaults={"heartbeat_at": now, "capacity": capacity}
    )
    live = max(
        1,
        WatchWorker.objects.filter(
            heartbeat_at__gte=now - timedelta(seconds=LEASE_SECONDS)
        ).count(),
    )
    ready = WatchedMailbox.objects.filter(credential_status=WatchedMailbox.CredentialStatus.ACTIVE)
    share = min(capacity, math.ceil(ready.count() / live))
    mine = ready.filter(lease_owner=worker_id)
    mine.update(lease_expires_at=expires)
    held = list(mine.order_by("id").values_list("id", flat=True))
    if len(held) > share:
        surplus = held[share:]
        WatchedMailbox.objects.filter(pk__in=surplus, lease_owner=worker_id).update(
            lease_owner="", lease_expires_at=None
        )
    elif len(held) < share:
        free = Q(lease_owner="") | Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
        candidates = list(
            ready.filter(free).order_by("id").values_list("id", flat=True)[: share - len(held)]
        )
        # The filter repeats the free test: of two workers racing for a row, one wins.
        WatchedMailbox.objects.filter(free, pk__in=candidates).update(
            lease_owner=worker_id, lease_expires_at=expires
        )
    # Mailboxes no longer ready (credential being renewed, unwatched) are let go too.
    WatchedMailbox.objects.filter(lease_owner=worker_id).exclude(
        credential_status=WatchedMailbox.CredentialStatus.ACTIVE
    ).update(lease_owner="", lease_expires_at=None)
    held = list(
        WatchedMailbox.objects.filter(lease_owner=worker_id)
        .order_by("id")
        .values_list("id", flat=True)
    )
    WatchWorker.objects.filter(worker_id=worker_id).update(holding=len(held))
    return held


def lease_release_all(*, worker_id: str) -> None:
    WatchedMailbox.objects.filter(lease_owner=worker_id).update(
        lease_owner="", lease_expires_at=None
    )
    WatchWorker.objects.filter(worker_id=worker_id).delete()


def watch_connection_configs(*, watched_ids: list[int]) -> dict[int, dict]:
    """What the engine needs to connect: host, port, login, password, folders."""
    configs = {}
    items = WatchedMailbox.objects.select_related("mailbox__domain__mail_server").filter(
        pk__in=watched_ids
    )
    all_handlers = handlers()
    for item in items:
        server = item.mailbox.domain.mail_server
        if server is None:
            continue
        folders: set[str] = set()
        for handler in all_handlers:
            folders |= handler.folders(item.mailbox)
        configs[item.pk] = {
            "host": server.imap_host or server.public_host,
            "port": server.imap_port,
            "username": item.mailbox.address,
            "password": item.app_password,
            "folders": sorted(folders or {"INBOX"}, key=lambda f: (f != "INBOX", f)),
        }
    return configs


def watch_connected(*, watched_id: int) -> None:
    WatchedMailbox.objects.filter(pk=watched_id).update(
        failures=0, retry_at=None, last_error="", last_connected_at=timezone.now()
    )


def watch_failed(*, watched_id: int, error: str) -> float:
    """Record a connection failure; return how long to wait before the next try (backoff)."""
    item = WatchedMailbox.objects.filter(pk=watched_id).only("failures").first()
    failures = (item.failures if item else 0) + 1
    delay = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (failures - 1)) * random.uniform(
        0.8, 1.2
    )
    WatchedMailbox.objects.filter(pk=watched_id).update(
        failures=failures,
        retry_at=timezone.now() + timedelta(seconds=delay),
        last_error=error[:2000],
    )
    return delay


# -- positions and messages ---------------------------------------------------------------


def folder_position(
    *, watched_id: int, folder: str, uidvalidity: int, uidnext: int
) -> tuple[int, bool]:
    """Return (last handled UID, whether UIDVALIDITY changed since).

    A folder seen for the first time starts at its current end: mail from before
    the watch began is not handled. After a UIDVALIDITY change the folder is read
    again from the start; Message-IDs already seen are skipped.
    """
    state = FolderState.objects.filter(watched_id=watched_id, folder=folder).first()
    if state is None:
        FolderState.objects.get_or_create(
            watched_id=watched_id,
            folder=folder,
            defaults={"uidvalidity": uidvalidity, "last_uid": max(0, uidnext - 1)},
        )
        return max(0, uidnext - 1), False
    if state.uidvalidity != uidvalidity:
        FolderState.objects.filter(pk=state.pk).update(uidvalidity=uidvalidity, last_uid=0)
        return 0, True
    return state.last_uid, False


def message_process(
    *,
    watched_id: int,
    worker_id: str,
    folder: str,
    uidvalidity: int,
    uid: int,
    raw: bytes,
    internal_date: datetime | None = None,
    attempt: int = 1,
) -> str:
    """Hand one message to the handlers that want its mailbox, exactly once.

    Returns "handled", "duplicate" (its Message-ID was seen already), "lost_lease"
    (another worker holds the mailbox now: nothing written), "stale" (the folder moved
    past it) or "failed" (a handler raised; the caller retries up to MAX_HANDLER_ATTEMPTS).
    """
    with transaction.atomic():
        item = (
            WatchedMailbox.objects.select_for_update()
            .select_related("mailbox__organization", "mailbox__domain")
            .filter(pk=watched_id)
            .first()
        )
        if item is None or item.lease_owner != worker_id:
            return "lost_lease"
        state = (
            FolderState.objects.select_for_update()
            .filter(watched_id=watched_id, folder=folder)
            .first()
        )
        if state is None or state.uidvalidity != uidvalidity or state.last_uid >= uid:
            return "stale"
        message = IncomingMessage(
            mailbox=item.mailbox,
            folder=folder,
            uid=uid,
            uidvalidity=uidvalidity,
            raw=raw,
            internal_date=internal_date,
        )
        FolderState.objects.filter(pk=state.pk).update(last_uid=uid)
        if SeenMessage.objects.filter(watched_id=watched_id, message_key=message.key).exists():
            return "duplicate"
        SeenMessage.objects.create(
            watched_id=watched_id, message_key=message.key, folder=folder, uid=uid
        )
        try:
            with transaction.atomic():
                for handler in handlers():
                    if handler.wants(item.mailbox):
                        handler.handle(message)
        except Exception:
            if attempt < MAX_HANDLER_ATTEMPTS:
                transaction.set_rollback(True)
                logger.warning(
                    "handler failed on %s uid %s (attempt %s)",
                    item.mailbox.address,
                    uid,
                    attempt,
                    exc_info=True,
                )
                return "failed"
            logger.exception(
                "handler failed on %s uid %s; giving up on this message", item.mailbox.address, uid
            )
        return "handled"
