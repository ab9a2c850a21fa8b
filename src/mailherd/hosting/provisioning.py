"""The outbox worker: apply ProvisioningOp rows to Mailcow (see docs/outbox.md).

`outbox_process_batch()` claims and applies a batch of rows and returns how
many; `outbox_drain()` and the Celery tasks are thin loops around it. Every handler is
idempotent: it makes the server match Mailherd's current state, so a retry
after a timeout neither creates twice nor fails on "already exists".
"""

import logging
import os
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.db import transaction
from django.db.models import CharField, Exists, F, Min, OuterRef, Value
from django.db.models.functions import Concat
from django.utils import timezone

from mailherd.core.nudges import settle_leave, settle_turn
from mailherd.hosting.models import Alias, Domain, Mailbox, ProvisioningOp, SyncStatus
from mailherd.mailcow.client import (
    MailboxActive,
    MailcowAlreadyExists,
    MailcowApiError,
    MailcowBackendError,
    MailcowBusinessError,
    MailcowConnectionError,
    MailcowError,
    MailcowNotFound,
    MailcowQuotaError,
    MailcowRateLimited,
    MailcowServerError,
    RateLimit,
)
from mailherd.mailcow.models import MailServer
from mailherd.mailcow.relays import effective_relay, relay_ensure_on_server
from mailherd.mailcow.services import client_for

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 15 * 60
STALE_CLAIM = timedelta(minutes=5)
BATCH_SIZE = 50
CLAIM_WINDOW = 4 * BATCH_SIZE  # due rows a claim looks at in one step
DEFAULT_DOMAIN_MAILBOX_QUOTA_MB = 1024

ACTIVE_STATES = (ProvisioningOp.Status.PENDING, ProvisioningOp.Status.IN_PROGRESS)


class Transient(Exception):
    """Try again later (server down, not configured yet)."""


class Permanent(Exception):
    """Mailcow refused the change; park the row and show the message."""


_clients = threading.local()  # {server id: (settings fingerprint, client)} for each thread


def _client(server: MailServer):
    """One pooled client per server and thread; rebuilt when the server's settings change.

    Per thread: the apply threads sharing one client queued on its connection pool's lock,
    which tests every pooled connection on each request (1.3 ms of worker CPU per row instead
    of the raw client's 0.7, and half the rate)."""
    fingerprint = f"{server.api_url}|{server.api_key}"
    mine = getattr(_clients, "by_server", None)
    if mine is None:
        mine = _clients.by_server = {}
    cached = mine.get(server.pk)
    if cached is None or cached[0] != fingerprint:
        mine[server.pk] = (fingerprint, client_for(server))
    return mine[server.pk][1]


def _backoff(attempts: int) -> timedelta:
    delay = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return timedelta(seconds=delay * random.uniform(0.8, 1.2))


def _claim_batch(limit: int) -> list[ProvisioningOp]:
    """Claim up to `limit` runnable rows: due, with no earlier unfinished row for their object or domain.

    A mailbox and an alias of the same address are one object here ("delete
    mailbox x" then "create alias x" must not swap when the first is retried).

    Due rows are read in id order, CLAIM_WINDOW at a time, and locked as they are read: on
    PostgreSQL `SKIP LOCKED` passes over a window another worker is claiming, so workers claim
    side by side. One more query finds, for every key the window's rows depend on, its oldest
    unfinished row; the rows nothing earlier blocks are claimed. The claim looks at the next
    window only when this one had too few, so rows waiting behind others (a domain without a
    server yet) never crowd out runnable work, and a long backlog costs what a short one does.
    (A single query with NOT EXISTS probes let the planner, working from statistics of an
    empty outbox, scan every unfinished row for every candidate: 0.1 s a claim at 5,000 rows.)
    """
    now = timezone.now()
    due = ProvisioningOp.objects.filter(status=ProvisioningOp.Status.PENDING, next_attempt_at__lte=now)
    chosen: list[ProvisioningOp] = []
    after = 0
    with transaction.atomic():
        while len(chosen) < limit:
            # Whole rows: the claimed ones need no second read after the update below.
            window = list(due.filter(id__gt=after).order_by("id").select_for_update(skip_locked=True)[:CLAIM_WINDOW])
            chosen += _runnable(window)[: limit - len(chosen)]
            if len(window) < CLAIM_WINDOW:
                break
            after = window[-1].pk
        if not chosen:
            return []
        token = uuid.uuid4().hex
        ProvisioningOp.objects.filter(pk__in=[op.pk for op in chosen]).update(
            status=ProvisioningOp.Status.IN_PROGRESS, claimed_at=now, claim_token=token, attempts=F("attempts") + 1
        )
    for op in chosen:  # what the update wrote (the rows are locked until it commits)
        op.status, op.claimed_at, op.claim_token, op.attempts = ProvisioningOp.Status.IN_PROGRESS, now, token, op.attempts + 1
    return chosen


def _depends_on(object_key: str, domain: str | None) -> tuple[str, ...]:
    """The keys whose earlier unfinished rows hold a row back: its own, its address twin, its domain's."""
    kind, _, identifier = object_key.partition(":")
    twin = {"mailbox": f"alias:{identifier}", "alias": f"mailbox:{identifier}"}.get(kind)
    return tuple(key for key in (object_key, twin, f"domain:{domain or ''}") if key)


def _runnable(window: list[ProvisioningOp]) -> list[ProvisioningOp]:
    """The window's rows that nothing earlier blocks."""
    if not window:
        return []
    depends = {op.pk: _depends_on(op.object_key, op.payload.get("domain")) for op in window}
    keys = {key for op_keys in depends.values() for key in op_keys}
    oldest = dict(
        ProvisioningOp.objects.filter(object_key__in=keys, status__in=ACTIVE_STATES, id__lte=window[-1].pk)
        .order_by()
        .values("object_key")
        .annotate(first=Min("id"))
        .values_list("object_key", "first")
    )
    runnable = []
    for op in window:
        if any(oldest.get(key, op.pk) < op.pk for key in depends[op.pk]):
            continue
        if op.kind == ProvisioningOp.Kind.DOMAIN_DELETE and ProvisioningOp.objects.filter(
            payload__domain=op.payload.get("domain"), status=ProvisioningOp.Status.IN_PROGRESS, id__lt=op.pk
        ).exists():
            continue  # children being applied finish before their domain goes
        runnable.append(op)
    return runnable


def _still_ours(op_ids, token: str):
    """The rows of this claim that no other worker has claimed since (see STALE_CLAIM)."""
    return ProvisioningOp.objects.filter(pk__in=op_ids, status=ProvisioningOp.Status.IN_PROGRESS, claim_token=token)


def _lost_claim(op: ProvisioningOp, outcome: str) -> None:
    logger.warning(
        "outbox %s %s: claimed again by another worker after %s; this worker's outcome (%s) is dropped",
        op.kind, op.object_key, STALE_CLAIM, outcome,
    )


def _apply(op: ProvisioningOp, servers: dict) -> str:
    """Apply one claimed row; return "done", or record a retry or a refusal and return that."""
    try:
        server = _server_cached(op, servers)
        HANDLERS[op.kind](op, _client(server) if server else None, server)
    except Transient as exc:
        servers.pop(op.payload.get("domain"), None)
        _retry_later(op, str(exc))
        return "retry"
    except Permanent as exc:
        _park(op, exc)
        return "failed"
    except MailcowBusinessError as exc:
        if isinstance(exc, MailcowBackendError):
            _retry_later(op, str(exc))
            return "retry"
        _park(op, exc)
        return "failed"
    except (MailcowConnectionError, MailcowServerError, MailcowRateLimited, MailcowApiError) as exc:
        # Down, overloaded, or auth/protocol trouble that is the operator's to fix:
        # keep retrying with backoff, and show the error meanwhile.
        servers.pop(op.payload.get("domain"), None)
        _retry_later(op, str(exc))
        return "retry"
    except MailcowError as exc:  # client-side validation: the data can never be applied
        _park(op, exc)
        return "failed"
    return "done"


def outbox_process_batch(limit: int = BATCH_SIZE, *, servers: dict | None = None) -> int:
    """Claim and apply up to `limit` rows; return how many were claimed (0: nothing to do).

    `servers` (domain name -> its MailServer) may carry the lookups of the previous batches.
    """
    ops = _claim_batch(limit)
    _prefetch_objects(ops)
    done = _apply_all(ops, {} if servers is None else servers)
    if done:
        token, now = done[0].claim_token, timezone.now()
        done_ids = [op.pk for op in done]
        # One statement in the common case; only when some claim went stale, a second says which.
        if _still_ours(done_ids, token).update(status=ProvisioningOp.Status.DONE, applied_at=now, last_error="") == len(done):
            ours = set(done_ids)
        else:
            ours = set(
                ProvisioningOp.objects.filter(pk__in=done_ids, claim_token=token, applied_at=now).values_list("pk", flat=True)
            )
            for op in done:
                if op.pk not in ours:
                    _lost_claim(op, "done")
        _mark_applied([op for op in done if op.pk in ours])
    return len(ops)


_apply_pool: tuple[int, ThreadPoolExecutor, int] | None = None  # (process id, pool, its threads)


def _apply_all(ops: list[ProvisioningOp], servers: dict) -> list[ProvisioningOp]:
    """Apply a batch; return the rows that are done.

    The rows of one batch never touch the same object or domain (see _claim_batch), so they
    go to Mailcow side by side, on MAILHERD_OUTBOX_THREADS threads: one row at a time left a
    worker waiting on Mailcow's answers (tens of ms each on a real server). Each thread has
    its own database connection, so a caller inside a transaction (whose rows those
    connections could not see) gets them one at a time (see _threads_can_share).
    """
    from django.conf import settings

    threads = min(settings.MAILHERD_OUTBOX_THREADS, len(ops))
    if threads <= 1 or not _threads_can_share(transaction.get_connection()):
        return [op for op in ops if _apply(op, servers) == "done"]
    for op in ops:  # each domain's server looked up once, before the threads share the answers
        if op.kind != ProvisioningOp.Kind.DOMAIN_DELETE:
            try:
                _server_cached(op, servers)
            except Transient:
                pass  # the row's own _apply meets it again and schedules the retry
    outcomes = list(_pool().map(lambda op: _apply_in_thread(op, dict(servers)), ops))
    return [op for op, outcome in zip(ops, outcomes, strict=True) if outcome == "done"]


def _threads_can_share(connection) -> bool:
    """Not when the caller is inside a transaction, nor on an in-memory SQLite database (the
    test suite's): its connections share tables under locks that fail instead of waiting."""
    if connection.in_atomic_block:
        return False
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())


def _pool() -> ThreadPoolExecutor:
    """One pool per process (made again after a fork: threads do not survive one)."""
    from django.conf import settings

    global _apply_pool
    if _apply_pool is None or _apply_pool[0] != os.getpid():
        size = settings.MAILHERD_OUTBOX_THREADS
        _apply_pool = (os.getpid(), ThreadPoolExecutor(max_workers=size, thread_name_prefix="outbox-apply"), size)
    return _apply_pool[1]


def outbox_threads_stop() -> None:
    """Stop the apply threads, each closing its database connection first (a test database can
    only be dropped once nobody is connected)."""
    import threading

    from django.db import connections

    global _apply_pool
    if _apply_pool is None or _apply_pool[0] != os.getpid():
        return
    (_pid, pool, count), _apply_pool = _apply_pool, None
    everyone = threading.Barrier(count)

    def close():
        everyone.wait(timeout=30)  # all waiting at once: each on a thread of its own
        connections.close_all()

    for future in [pool.submit(close) for _ in range(count)]:
        future.result()
    pool.shutdown()


def _apply_in_thread(op: ProvisioningOp, servers: dict) -> str:
    from django.db import close_old_connections

    close_old_connections()  # what a request does first: a connection the database dropped is replaced
    return _apply(op, servers)


_NOT_FETCHED = object()


def _prefetch_objects(ops: list[ProvisioningOp]) -> None:
    """Load the batch's mailboxes in one query; handlers read `op.prefetched`."""
    addresses = [op.object_key.split(":", 1)[1] for op in ops if op.object_key.startswith("mailbox:")]
    if not addresses:
        return
    found = {m.address: m for m in Mailbox.objects.select_related("organization__plan").filter(address__in=addresses)}
    for op in ops:
        if op.object_key.startswith("mailbox:"):
            op.prefetched = found.get(op.object_key.split(":", 1)[1])


def outbox_drain(*, max_ops: int = 10_000, max_seconds: float = 50.0, settle_seconds: float = 0.0) -> int:
    """Apply rows until none is runnable or a budget runs out; return how many were applied.

    With `settle_seconds`, a batch smaller than a full one is followed by that short pause, so
    changes arriving one by one (a script creating mailboxes) are applied a few at a time
    instead of paying a claim and a completion for each row.
    """
    import time

    deadline = time.monotonic() + max_seconds
    applied = 0
    me, settling = uuid.uuid4().hex, False
    servers, servers_until = {}, 0.0
    try:
        while applied < max_ops and time.monotonic() < deadline:
            if time.monotonic() > servers_until:  # a server's changed settings apply within a second
                servers, servers_until = {}, time.monotonic() + SERVERS_FRESH_SECONDS
            limit = min(BATCH_SIZE, max_ops - applied)
            count = outbox_process_batch(limit, servers=servers)
            if not count:
                if settling:  # changes made while this worker waited nudged nobody: one more look
                    settle_leave("outbox", me)
                    settling = False
                    continue
                break
            applied += count
            if count == limit and settling:  # a backlog now: changes nudge, and another worker helps
                settle_leave("outbox", me)
                settling = False
                _kick_worker()
            elif settle_seconds and count < limit:
                settling = settle_turn("outbox", me)
                if not settling:
                    break  # another worker is waiting for the next rows already
                time.sleep(settle_seconds)
    finally:
        if settling:  # out of budget while waiting: whatever came meanwhile gets a worker of its own
            settle_leave("outbox", me)
            _kick_worker()
    return applied


def _kick_worker() -> None:
    from mailherd.hosting.services.outbox import kick_worker

    kick_worker()


SERVERS_FRESH_SECONDS = 1.0  # how long a drain reuses its domain -> server lookups


def outbox_release_stale_claims() -> int:
    """Rows claimed by a worker that died (or hangs) are made runnable again.

    Their claim token is cleared: should the first worker come back, its outcome no longer counts.
    """
    return ProvisioningOp.objects.filter(
        status=ProvisioningOp.Status.IN_PROGRESS, claimed_at__lt=timezone.now() - STALE_CLAIM
    ).update(status=ProvisioningOp.Status.PENDING, next_attempt_at=timezone.now(), claim_token="")


def outbox_retry_now() -> int:
    """Make waiting rows due now (a server was added or came back)."""
    return ProvisioningOp.objects.filter(status=ProvisioningOp.Status.PENDING).update(next_attempt_at=timezone.now())


# -- outcomes ---------------------------------------------------------------


def _retry_later(op: ProvisioningOp, error: str) -> None:
    logger.info("outbox %s %s: will retry: %s", op.kind, op.object_key, error)
    if not _still_ours([op.pk], op.claim_token).update(
        status=ProvisioningOp.Status.PENDING,
        next_attempt_at=timezone.now() + _backoff(op.attempts),
        last_error=error[:2000],
    ):
        _lost_claim(op, "retry")


def _park(op: ProvisioningOp, exc: Exception) -> None:
    """The row keeps the full error for the operator; the object shows plain words."""
    from mailherd.hosting.messages import customer_error

    error = str(exc)
    logger.warning("outbox %s %s: refused: %s", op.kind, op.object_key, error)
    with transaction.atomic():
        if not _still_ours([op.pk], op.claim_token).update(
            status=ProvisioningOp.Status.FAILED, last_error=error[:2000]
        ):
            _lost_claim(op, "failed")
            return
        _mark_object(op, SyncStatus.ERROR, customer_error(exc))


def _mark_applied(ops: list[ProvisioningOp]) -> None:
    """Objects whose last change is applied become active (those with more changes queued wait)."""
    if not ops:
        return
    by_kind: dict[str, list[str]] = {}
    for op in ops:
        kind, _, identifier = op.object_key.partition(":")
        by_kind.setdefault(kind, []).append(identifier)
    for kind, model in (("mailbox", Mailbox), ("alias", Alias)):
        if by_kind.get(kind):
            queued = ProvisioningOp.objects.filter(
                object_key=Concat(Value(f"{kind}:"), OuterRef("address"), output_field=CharField()),
                status__in=ACTIVE_STATES,
            )
            model.objects.filter(address__in=by_kind[kind]).filter(~Exists(queued)).update(
                sync_status=SyncStatus.ACTIVE, last_error=""
            )
    domain_ops = [op for op in ops if op.object_key.startswith("domain:")]
    if domain_ops:
        still_queued = set(
            ProvisioningOp.objects.filter(
                object_key__in={op.object_key for op in domain_ops}, status__in=ACTIVE_STATES
            ).values_list("object_key", flat=True)
        )
        for op in domain_ops:
            if op.object_key not in still_queued:
                _mark_object(op, SyncStatus.ACTIVE, "")


def _mark_object(op: ProvisioningOp, status: str, error: str) -> None:
    kind, _, identifier = op.object_key.partition(":")
    if kind == "mailbox":
        Mailbox.objects.filter(address=identifier).update(
            sync_status=status, last_error=error[:2000]
        )
    elif kind == "alias":
        Alias.objects.filter(address=identifier).update(sync_status=status, last_error=error[:2000])
    elif kind == "syncjob" and status == SyncStatus.ERROR:
        from mailherd.hosting.models import SyncJob

        SyncJob.objects.filter(pk=int(identifier)).update(sync_status=status, last_error=error[:2000])
    elif kind == "domain" and op.kind != ProvisioningOp.Kind.DOMAIN_DELETE:
        domain_status = Domain.Status.ACTIVE if status == SyncStatus.ACTIVE else Domain.Status.ERROR
        Domain.objects.filter(name=identifier, verified_at__isnull=False).update(
            status=domain_status, last_error=error[:2000]
        )


# -- which server -------------------------------------------------------------


def _server_cached(op: ProvisioningOp, servers: dict) -> MailServer | None:
    """_server_for, remembered in `servers` by domain name. Only a server is remembered: a
    domain that is gone may be added again, and a deleted domain's row names its own server."""
    if op.kind == ProvisioningOp.Kind.DOMAIN_DELETE:
        return _server_for(op)
    domain_name = op.payload.get("domain")
    if domain_name not in servers:
        server = _server_for(op)
        if server is None:
            return None
        servers[domain_name] = server
    return servers[domain_name]


def _server_for(op: ProvisioningOp) -> MailServer | None:
    """The server the row's domain lives on; Transient while there is none yet."""
    if op.kind == ProvisioningOp.Kind.DOMAIN_DELETE:
        server_id = op.payload.get("server_id")
        return MailServer.objects.filter(pk=server_id).first() if server_id else None
    domain = (
        Domain.objects.select_related("mail_server", "organization")
        .filter(name=op.payload.get("domain"), verified_at__isnull=False)
        .first()
    )
    if domain is None:
        return None  # gone since: handlers treat a missing object as nothing to do
    if domain.mail_server is None:
        from mailherd.hosting.services.placement import place_organization

        with transaction.atomic():
            from mailherd.tenancy.locks import organization_lock

            organization = organization_lock(organization_id=domain.organization_id)
            server = place_organization(organization)
            if server is None:
                raise Transient("waiting for a Mailcow server to be registered")
            Domain.objects.filter(pk=domain.pk).update(mail_server=server)
            domain.mail_server = server
    if not domain.mail_server.is_active:
        raise Transient(f"server {domain.mail_server.name} is inactive")
    return domain.mail_server


# -- handlers -------------------------------------------------------------------


# Mailcow's per-domain limits that Mailherd sets from the plan; when one trips
# (the plan changed and the domain's limits were not updated yet), the
# handler brings the domain up to date and tries once more.
DOMAIN_LIMIT_KEYS = {
    "max_mailbox_exceeded",
    "mailbox_quota_left_exceeded",
    "mailbox_quota_exceeded",
    "max_alias_exceeded",
}


def _with_domain_limits_refreshed(op, client, server, apply):
    try:
        return apply()
    except MailcowQuotaError as exc:
        if exc.msg_key not in DOMAIN_LIMIT_KEYS:
            raise
        _sync_domain_named(op.payload["domain"], client)
        return apply()


def _sync_domain(op, client, server) -> None:
    _sync_domain_named(op.payload["domain"], client)


def domain_limits_for(domain) -> dict:
    """The limits a domain should have on its server: its plan's, or the platform domain's own."""
    if domain.is_platform:
        from mailherd.hosting.services.platform import platform_domain_limits

        return platform_domain_limits()
    return domain_limits(domain.organization.plan)


def domain_limits(plan) -> dict:
    """Mailcow's per-domain limits, from the plan (the reconciler repairs drift from these)."""
    return {
        "quota_mib": plan.max_storage_mb,
        "max_mailbox_quota_mib": plan.max_storage_mb,
        "max_mailboxes": plan.max_mailboxes,
        "max_aliases": plan.max_aliases,
    }


def _sync_domain_named(name, client) -> None:
    domain = (
        Domain.objects.select_related(
            "organization__plan", "relay", "mail_server__default_relay"
        )
        .filter(name=name, verified_at__isnull=False)
        .first()
    )
    if domain is None or client is None:
        return
    if domain.alias_of_id:
        from mailherd.hosting.services.aliasdomains import sync_alias_domain

        return sync_alias_domain(domain, client, active=_desired_domain_active(domain.organization))
    plan = domain.organization.plan
    limits = domain_limits_for(domain)
    active = _desired_domain_active(domain.organization)
    rate_limit = desired_rate_limit(domain, plan, "domain")
    relay = effective_relay(domain)
    # 0 sends mail directly; the relay is created on the server the first time a domain needs it.
    relayhost_id = relay_ensure_on_server(client, domain.mail_server, relay) if relay else 0
    try:
        client.add_domain(
            domain.name,
            default_mailbox_quota_mib=min(DEFAULT_DOMAIN_MAILBOX_QUOTA_MB, plan.max_storage_mb),
            description=f"{domain.organization.name} ({domain.organization.slug})",
            dkim_selector=domain.dkim_selector,
            dkim_key_size=0,  # Mailherd installs a key it keeps (below), not one only Mailcow knows
            active=active,
            rate_limit=rate_limit,
            **limits,
        )
        if relayhost_id:
            # add/domain ignores `relayhost` (its INSERT has no such column: read from source)
            client.assign_relayhost(domain.name, relayhost_id)
    except MailcowAlreadyExists:
        client.edit_domain(domain.name, active=active, relayhost_id=relayhost_id, **limits)
        _set_rate_limit(client, "domain", domain.name, rate_limit)
    _ensure_dkim(domain, client)


def _ensure_dkim(domain: Domain, client) -> None:
    """Make the server's DKIM key the one Mailherd keeps (see hosting/dkim.py).

    - Mailherd holds the key: a missing or different key on the server is replaced by it.
    - It holds none yet (a new domain, or one provisioned before Mailherd kept keys): a
      server that shows its private key has it adopted; a domain with nothing published
      yet, or whose key is gone, gets a new key generated here, kept, then installed.
    - Otherwise (an older key only the server knows) the server's key stays.
    When the key behind an already shown record changes, the customer is asked to
    publish the new record.
    """
    from mailherd.hosting.dkim import dkim_key_generate, dkim_public_b64, dkim_txt_public_b64

    key = client.get_dkim(domain.name)
    private = domain.dkim_private_key
    if not private and key is not None and key.private_key and (
        not domain.dkim_txt or dkim_txt_public_b64(domain.dkim_txt) == key.public_key
    ):
        private = key.private_key
        Domain.objects.filter(pk=domain.pk).update(dkim_private_key=private)
    if not private and (key is None or not domain.dkim_txt):
        private = dkim_key_generate()
        # Kept before it is installed: a retry after a lost answer installs the same key.
        Domain.objects.filter(pk=domain.pk).update(dkim_private_key=private)
        key = None
    if private and (
        key is None or key.public_key != dkim_public_b64(private) or key.selector != domain.dkim_selector
    ):
        try:
            client.import_dkim(domain.name, private_key_pem=private, selector=domain.dkim_selector)
        except MailcowBusinessError as exc:
            if exc.msg_key != "private_key_error" or key is not None:
                raise
            # The server would not read the key: let it make one (not restorable, as before).
            logger.warning("domain %s: the server refused Mailherd's DKIM key (%s); it generates one", domain.name, exc)
            Domain.objects.filter(pk=domain.pk).update(dkim_private_key="")
            client.add_dkim(domain.name, selector=domain.dkim_selector, key_size=2048)
        key = client.get_dkim(domain.name)
    if key is None:
        return
    Domain.objects.filter(pk=domain.pk).update(dkim_txt=key.txt, dkim_selector=key.selector)
    if domain.dkim_txt and dkim_txt_public_b64(domain.dkim_txt) != key.public_key:
        logger.warning("domain %s: DKIM key replaced; the customer must publish the new record", domain.name)
        domain_pk = domain.pk
        transaction.on_commit(lambda: dkim_changed_notify(domain_id=domain_pk))


def dkim_changed_notify(*, domain_id: int) -> int:
    """Ask the organization's owners and admins to publish the domain's new DKIM record."""
    from django.conf import settings
    from django.urls import reverse

    from mailherd.notifications.services import email_send
    from mailherd.tenancy.models import Membership, Role

    domain = Domain.objects.select_related("organization").filter(pk=domain_id).first()
    if domain is None:
        return 0
    organization = domain.organization
    context = {
        "organization": organization,
        "domain": domain,
        "record_name": f"{domain.dkim_selector}._domainkey.{domain.name}",
        "record_value": domain.dkim_txt,
        "records_url": settings.SITE_URL
        + reverse("dns:records", kwargs={"org_slug": organization.slug, "name": domain.name}),
    }
    sent = 0
    for membership in Membership.objects.filter(
        organization=organization, role__in=(Role.OWNER, Role.ADMIN)
    ).select_related("user"):
        email_send(to=membership.user.email, template="dns_dkim_changed", context=context, organization=organization)
        sent += 1
    return sent


def _delete_domain(op, client, server) -> None:
    if client is None:
        return
    name = op.payload["domain"]
    if op.payload.get("alias_domain"):
        client.delete_alias_domain(name, missing_ok=True)
        try:
            client.delete_dkim(name)
        except MailcowNotFound:
            pass
        return
    for mailbox in client.list_mailboxes(name):
        client.delete_mailbox(mailbox.address, missing_ok=True)
    client.delete_domain(name)
    try:
        client.delete_dkim(name)
    except MailcowNotFound:
        pass


def mailcow_display_name(mailbox: Mailbox) -> str:
    """Mailcow names a mailbox after its local part when no name is given; say so explicitly."""
    return mailbox.name or mailbox.local_part


def _desired_active(mailbox: Mailbox) -> MailboxActive:
    """Mailcow's flag from the customer's choice and the suspension stage (never stored)."""
    if not mailbox.enabled:
        return MailboxActive.DISABLED
    if mailbox.organization.is_deactivated:
        return MailboxActive.DISABLED  # stage 2: mail refused
    if mailbox.organization.is_suspended:
        return MailboxActive.NO_LOGIN  # keeps receiving mail while the bill is settled
    return MailboxActive.ACTIVE


def desired_rate_limit(obj, plan, scope: str) -> RateLimit | None:
    """The Mailcow rate limit for a mailbox or domain (see hosting.services.ratelimits)."""
    from mailherd.hosting.services.ratelimits import effective_rate_limit

    limit = effective_rate_limit(obj, plan, scope)
    return RateLimit(value=limit.value, frame=limit.frame) if limit else None


def _set_rate_limit(client, scope: str, item: str, limit: RateLimit | None) -> None:
    if scope == "domain":
        if limit is None:
            client.clear_domain_rate_limit(item)
        else:
            client.set_domain_rate_limit(item, limit.value, limit.frame)
    elif limit is None:
        client.clear_mailbox_rate_limit(item)
    else:
        client.set_mailbox_rate_limit(item, limit.value, limit.frame)


def _desired_domain_active(organization) -> bool:
    """A domain is active in Mailcow unless its organization's suspension reached stage 2."""
    return not organization.is_deactivated


def _sync_mailbox(op, client, server) -> None:
    address = op.object_key.split(":", 1)[1]
    mailbox = getattr(op, "prefetched", _NOT_FETCHED)
    if mailbox is _NOT_FETCHED:
        mailbox = Mailbox.objects.select_related("organization__plan").filter(address=address).first()
    if mailbox is None or client is None:
        return  # deleted since; its delete row follows
    desired = {
        "quota_mib": mailbox.quota_mb,
        "name": mailcow_display_name(mailbox),
        "active": _desired_active(mailbox),
    }
    if mailbox.blocked_protocols or op.payload.get("access"):
        # The mailbox user's protocol switches (Mailcow's <protocol>_access attributes).
        from mailherd.webmail.selfservice import desired_access

        desired["access"] = desired_access(mailbox)
    switch = op.payload.get("sso_switch")
    if mailbox.sso or switch == "off":
        # Single sign-on: Mailcow's generic-oidc authsource (no password; app passwords).
        desired["authsource"] = "generic-oidc" if mailbox.sso else "mailcow"
    if switch == "on" and op.kind == ProvisioningOp.Kind.MAILBOX_UPDATE:
        # Mailcow keeps the old hash under generic-oidc and revives it on the way back:
        # replace it with a random one first, so the old password can never come back.
        try:
            client.edit_mailbox(address, password=_random_password())
        except MailcowNotFound:
            pass  # recreated below with the authsource set
    # Only the hash is ever sent (Mailcow stores a {SCHEME} value as it is); an update sends it
    # when the password changed, a create always (when known).
    stored_hash = mailbox.password_hash or None
    password = stored_hash if (op.kind == ProvisioningOp.Kind.MAILBOX_CREATE or op.payload.get("password_changed")) else None
    rate_limit = desired_rate_limit(mailbox, mailbox.organization.plan, "mailbox")

    def create():
        # The common case is one call; "already exists" means an earlier attempt got through.
        try:
            client.add_mailbox(address, password=password, rate_limit=rate_limit, **desired)
            return True
        except MailcowAlreadyExists:
            client.edit_mailbox(address, password=password, **desired)
            return False

    def update():
        try:
            client.edit_mailbox(address, password=password, **desired)
        except MailcowNotFound:
            # Missing on the server (a restore, a manual delete): re-create it with the user's password.
            if stored_hash is None and not mailbox.sso:
                raise Permanent(
                    "The mailbox is missing on the server and no password is known: set a new password."
                )
            client.add_mailbox(address, password=stored_hash or _random_password(), **desired)

    creating = op.kind == ProvisioningOp.Kind.MAILBOX_CREATE and password is not None
    added = _with_domain_limits_refreshed(op, client, server, create if creating else update)
    # A new mailbox got its limit with add/mailbox; otherwise it is set (or cleared) every time,
    # so a retried or repaired row converges.
    if not added:
        _set_rate_limit(client, "mailbox", address, rate_limit)
    if op.payload.get("spam_settings") or (creating and _has_spam_settings(mailbox)):
        client.set_quarantine_notification(address, mailbox.quarantine_notification)
        client.set_quarantine_category(address, mailbox.quarantine_category)
        client.set_spam_score(address, mailbox.spam_low, mailbox.spam_high)


def _has_spam_settings(mailbox) -> bool:
    """Anything other than Mailcow's defaults for a new mailbox."""
    return (mailbox.quarantine_notification, mailbox.quarantine_category) != ("hourly", "reject") or (
        mailbox.spam_low is not None
    )


def _random_password() -> str:
    import secrets

    return secrets.token_urlsafe(24) + "aA1!"


def _delete_mailbox(op, client, server) -> None:
    if client is not None:
        client.delete_mailbox(op.object_key.split(":", 1)[1], missing_ok=True)


def _sync_alias(op, client, server) -> None:
    address = op.object_key.split(":", 1)[1]
    alias = Alias.objects.filter(address=address).first()
    if alias is None or client is None:
        return

    def apply():
        existing = client.get_alias(address)
        if existing is None:
            try:
                client.add_alias(address, alias.goto, active=alias.enabled)
                return
            except MailcowAlreadyExists:
                existing = client.get_alias(address)
                if existing is None:
                    raise Permanent(f"{address} is already a mailbox on the server.")
        client.edit_alias(existing.id, goto=alias.goto, active=alias.enabled)

    _with_domain_limits_refreshed(op, client, server, apply)


def _delete_alias(op, client, server) -> None:
    if client is not None:
        client.delete_alias(op.object_key.split(":", 1)[1], missing_ok=True)


def _release_quarantined(op, client, server) -> None:
    if client is None:
        return
    try:
        client.release_quarantine(op.payload["item_id"], learn_ham=op.payload.get("learn_ham", False))
    except MailcowNotFound:
        pass  # released or deleted since (an earlier attempt got through)
    except MailcowBusinessError as exc:
        # Delivered, but rspamd could not learn it (no rspamd socket): the release itself stands.
        if exc.msg_key not in ("ham_learn_error", "fuzzy_learn_error"):
            raise
        logger.warning("quarantine %s released, not learned: %s", op.object_key, exc)


def _delete_quarantined(op, client, server) -> None:
    if client is not None:
        client.delete_quarantine(op.payload["item_id"])  # Mailcow deletes unknown ids silently


MAILCOW_ENCRYPTION = {"ssl": "SSL", "starttls": "TLS", "plain": "PLAIN"}


def _sync_syncjob(op, client, server) -> None:
    from mailherd.hosting.models import SyncJob

    job = SyncJob.objects.select_related("mailbox").filter(pk=int(op.object_key.split(":", 1)[1])).first()
    if job is None or client is None:
        return  # deleted since; its delete row follows
    if job.mailbox.sync_status != SyncStatus.ACTIVE:
        raise Transient("waiting for the mailbox to be created on the server")
    existing = None
    if job.mailcow_id:
        existing = next((j for j in client.list_sync_jobs(job.mailbox.address) if j.id == job.mailcow_id), None)
    if existing is None:
        existing = next(
            (j for j in client.list_sync_jobs(job.mailbox.address) if j.host == job.host and j.user == job.username),
            None,
        )  # an earlier attempt got through
    if existing is None:
        existing = client.add_sync_job(
            job.mailbox.address,
            host=job.host,
            port=job.port,
            user=job.username,
            password=job.password,
            encryption=MAILCOW_ENCRYPTION[job.security],
            active=job.active,
        )
    elif existing.active != job.active:
        client.edit_sync_job(existing.id, active=job.active)
    SyncJob.objects.filter(pk=job.pk).update(mailcow_id=existing.id, sync_status=SyncStatus.ACTIVE, last_error="")


def _delete_syncjob(op, client, server) -> None:
    if client is None:
        return
    job_id = op.payload.get("mailcow_id")
    if job_id is None:  # deleted before Mailcow reported its id: find it by its source
        job_id = next(
            (j.id for j in client.list_sync_jobs(op.payload["mailbox"])
             if j.host == op.payload.get("host") and j.user == op.payload.get("user")),
            None,
        )
    if job_id is not None:
        try:
            client.delete_sync_job(job_id)
        except MailcowNotFound:
            pass


HANDLERS: dict = {
    ProvisioningOp.Kind.DOMAIN_CREATE: _sync_domain,
    ProvisioningOp.Kind.DOMAIN_UPDATE: _sync_domain,
    ProvisioningOp.Kind.DOMAIN_DELETE: _delete_domain,
    ProvisioningOp.Kind.MAILBOX_CREATE: _sync_mailbox,
    ProvisioningOp.Kind.MAILBOX_UPDATE: _sync_mailbox,
    ProvisioningOp.Kind.MAILBOX_DELETE: _delete_mailbox,
    ProvisioningOp.Kind.ALIAS_CREATE: _sync_alias,
    ProvisioningOp.Kind.ALIAS_UPDATE: _sync_alias,
    ProvisioningOp.Kind.ALIAS_DELETE: _delete_alias,
    ProvisioningOp.Kind.QUARANTINE_RELEASE: _release_quarantined,
    ProvisioningOp.Kind.QUARANTINE_DELETE: _delete_quarantined,
    ProvisioningOp.Kind.SYNCJOB_CREATE: _sync_syncjob,
    ProvisioningOp.Kind.SYNCJOB_UPDATE: _sync_syncjob,
    ProvisioningOp.Kind.SYNCJOB_DELETE: _delete_syncjob,
}


def register_outbox_handler(kind: str, handler) -> None:
    """Let another app apply rows of its own kind (e.g. "imapwatch.app_password.create").

    Such rows use an object_key prefix of their own (never "mailbox:", "alias:" or
    "domain:", whose status this module sets); the handler records the outcome on
    its own objects and raises Transient/Permanent like the handlers above.
    """
    HANDLERS[kind] = handler
