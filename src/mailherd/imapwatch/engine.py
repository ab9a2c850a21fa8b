"""The watcher process: one asyncio loop holding many IMAP connections (see docs/imap-watcher.md).

Each leased mailbox gets a task: log in with Mailherd's app password, catch up
on every watched folder (UID > last handled), then IDLE on INBOX (or poll when
the server has no IDLE, and to look at the other folders), and back off when
the server is down. Database work runs on one thread of its own, so the loop
never blocks on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import socket
import ssl
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import aioimaplib
from django.conf import settings
from django.db import close_old_connections, connections
from imapclient.imap_utf7 import encode as utf7_encode

from mailherd.imapwatch import services

logger = logging.getLogger(__name__)

FETCH_BATCH = 20


class LoginRefused(Exception):
    pass


class LeaseLost(Exception):
    pass


def _quote(folder: str) -> str:
    encoded = utf7_encode(folder).decode("ascii")
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _code(lines, name: str) -> int | None:
    for line in lines:
        if isinstance(line, bytes | bytearray):
            match = re.search(rb"\[" + name.encode() + rb" (\d+)\]", line)
            if match:
                return int(match.group(1))
    return None


def _announces_new(lines) -> bool:
    return any(isinstance(line, bytes) and line.endswith(b" EXISTS") for line in lines)


def _internal_date(line: bytes) -> datetime | None:
    match = re.search(rb'INTERNALDATE "([^"]+)"', line)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1).decode(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return None


class Watcher:
    def __init__(
        self,
        *,
        worker_id: str | None = None,
        capacity: int | None = None,
        poll_seconds: float | None = None,
        rebalance_seconds: float | None = None,
        idle_seconds: float = 25 * 60,
        timeout: float = 30.0,
    ):
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.capacity = capacity or getattr(settings, "MAILHERD_IMAP_WATCH_CAPACITY", 2000)
        self.poll_seconds = poll_seconds or getattr(
            settings, "MAILHERD_IMAP_WATCH_POLL_SECONDS", 60.0
        )
        self.rebalance_seconds = rebalance_seconds or services.LEASE_SECONDS / 3
        self.idle_seconds = idle_seconds
        self.timeout = timeout
        self._db_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imapwatch-db")
        self._tasks: dict[int, tuple[dict, asyncio.Task]] = {}
        self._stop = asyncio.Event()
        # False: stop like a process that dies (tests): leases stay until they run out.
        self.release_on_stop = True
        self.handled = 0  # messages handed to handlers by this process (for benchmarks and tests)

    async def db(self, function, **kwargs):
        def call():
            close_old_connections()
            return function(**kwargs)

        return await asyncio.get_running_loop().run_in_executor(
            self._db_pool, functools.partial(call)
        )

    def stop(self) -> None:
        self._stop.set()

    @property
    def holding(self) -> int:
        return len(self._tasks)

    async def run(self) -> None:
        logger.info("imap watcher %s starting (capacity %s)", self.worker_id, self.capacity)
        try:
            while not self._stop.is_set():
                await self.rebalance()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.rebalance_seconds)
        finally:
            await self._shutdown()

    async def rebalance(self) -> None:
        held = await self.db(
            services.lease_balance, worker_id=self.worker_id, capacity=self.capacity
        )
        configs = await self.db(services.watch_connection_configs, watched_ids=held)
        for watched_id in list(self._tasks):
            config, task = self._tasks[watched_id]
            if watched_id not in configs or configs[watched_id] != config or task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                del self._tasks[watched_id]
        for watched_id, config in configs.items():
            if watched_id not in self._tasks:
                task = asyncio.create_task(
                    self._watch(watched_id, config), name=f"watch-{watched_id}"
                )
                self._tasks[watched_id] = (config, task)

    async def _shutdown(self) -> None:
        for _, task in self._tasks.values():
            task.cancel()
        for _, task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.release_on_stop:
            await self.db(services.lease_release_all, worker_id=self.worker_id)
        await self.db(connections.close_all)
        self._db_pool.shutdown(wait=True)
        logger.info("imap watcher %s stopped", self.worker_id)

    # -- one mailbox ---------------------------------------------------------------------

    async def _watch(self, watched_id: int, config: dict) -> None:
        while True:
            try:
                await self._session(watched_id, config)
                return
            except LeaseLost:
                return
            except LoginRefused as exc:
                # Our app password is gone or wrong: make a new one; the lease is
                # let go until it is applied.
                logger.warning("watch %s: login refused: %s", config["username"], exc)
                await self.db(
                    services.watch_failed, watched_id=watched_id, error=f"login refused: {exc}"
                )
                await self.db(services.watch_renew_credential, watched_id=watched_id)
                return
            except (TimeoutError, OSError, aioimaplib.AioImapException, ConnectionError) as exc:
                delay = await self.db(services.watch_failed, watched_id=watched_id, error=repr(exc))
                logger.info("watch %s: %r; retrying in %.0fs", config["username"], exc, delay)
                await asyncio.sleep(delay)

    def _connect(self, config: dict, lost: asyncio.Event) -> aioimaplib.IMAP4:
        use_tls = config["port"] == 993 or getattr(settings, "MAILHERD_IMAP_WATCH_TLS", False)
        context = ssl.create_default_context() if use_tls else None
        return aioimaplib.IMAP4(
            host=config["host"],
            port=config["port"],
            timeout=self.timeout,
            ssl_context=context,
            conn_lost_cb=lambda exc: lost.set(),
        )

    async def _session(self, watched_id: int, config: dict) -> None:
        lost = asyncio.Event()
        client = self._connect(config, lost)
        try:
            await client.wait_hello_from_server()
            response = await client.login(config["username"], config["password"])
            if response.result != "OK":
                raise LoginRefused(
                    b" ".join(bytes(x) for x in response.lines).decode(errors="replace")
                )
            await self.db(services.watch_connected, watched_id=watched_id)
            can_idle = client.has_capability("IDLE")
            idle_on_inbox = can_idle and "INBOX" in config["folders"]
            others = [f for f in config["folders"] if not (idle_on_inbox and f == "INBOX")]
            while not lost.is_set():
                for folder in others:
                    await self._catch_up(client, watched_id, folder)
                if idle_on_inbox:
                    # INBOX last and left selected: IDLE then reports what arrives after.
                    while await self._catch_up(client, watched_id, "INBOX"):
                        pass
                    await self._idle(
                        client, lost, self.poll_seconds if others else self.idle_seconds
                    )
                else:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(lost.wait(), self.poll_seconds)
            raise ConnectionError("the server closed the connection")
        finally:
            with contextlib.suppress(Exception):
                if not lost.is_set():
                    await asyncio.wait_for(client.logout(), 2)

    async def _idle(self, client, lost: asyncio.Event, seconds: float) -> None:
        idle = await client.idle_start(timeout=seconds)
        try:
            while client.has_pending_idle() and not lost.is_set():
                push_task = asyncio.ensure_future(client.wait_server_push(timeout=seconds + 5))
                lost_task = asyncio.ensure_future(lost.wait())
                done, _ = await asyncio.wait(
                    {push_task, lost_task}, return_when=asyncio.FIRST_COMPLETED
                )
                lost_task.cancel()
                if push_task not in done:
                    push_task.cancel()
                    raise ConnectionError("the server closed the connection")
                push = push_task.result()
                if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                if any(b"EXISTS" in bytes(line) for line in push):
                    break
        finally:
            if client.has_pending_idle():
                client.idle_done()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(idle, self.timeout)

    async def _select(self, client, folder: str):
        response = await client.select(_quote(folder))  # aioimaplib tracks SELECTED only for SELECT
        if response.result != "OK":
            return None
        return response

    async def _catch_up(self, client, watched_id: int, folder: str) -> bool:
        """Hand over what is new in `folder`; True if more arrived meanwhile (look again)."""
        response = await self._select(client, folder)
        if response is None:
            return False  # the folder does not exist (yet): nothing was filed there
        uidvalidity = _code(response.lines, "UIDVALIDITY") or 0
        uidnext = _code(response.lines, "UIDNEXT") or 1
        last_uid, _ = await self.db(
            services.folder_position,
            watched_id=watched_id,
            folder=folder,
            uidvalidity=uidvalidity,
            uidnext=uidnext,
        )
        if uidnext <= last_uid + 1:
            return False
        found = await client.uid_search("UID", f"{last_uid + 1}:*", charset=None)
        more = _announces_new(found.lines[1:])
        listed = [line for line in found.lines[:-1] if re.fullmatch(rb"[\d ]*", bytes(line))]
        uids = sorted(int(x) for x in (listed[0].split() if listed else []))
        uids = [uid for uid in uids if uid > last_uid]  # "n:*" always names the last message
        for start in range(0, len(uids), FETCH_BATCH):
            batch = uids[start : start + FETCH_BATCH]
            fetched = await client.uid(
                "fetch", ",".join(map(str, batch)), "(UID INTERNALDATE BODY.PEEK[])"
            )
            more = more or _announces_new(fetched.lines)
            for uid, internal_date, raw in self._fetched(fetched.lines):
                await self._hand_over(watched_id, folder, uidvalidity, uid, raw, internal_date)
        return more

    @staticmethod
    def _fetched(lines):
        """(uid, internal date, raw bytes) per message of a UID FETCH answer, in UID order."""
        found = []
        for index, line in enumerate(lines):
            if isinstance(line, bytes) and b" FETCH (" in line and index + 1 < len(lines):
                match = re.search(rb"UID (\d+)", line)
                body = lines[index + 1]
                if match and isinstance(body, bytearray):
                    found.append((int(match.group(1)), _internal_date(line), bytes(body)))
        return sorted(found)

    async def _hand_over(self, watched_id, folder, uidvalidity, uid, raw, internal_date) -> None:
        for attempt in range(1, services.MAX_HANDLER_ATTEMPTS + 1):
            outcome = await self.db(
                services.message_process,
                watched_id=watched_id,
                worker_id=self.worker_id,
                folder=folder,
                uidvalidity=uidvalidity,
                uid=uid,
                raw=raw,
                internal_date=internal_date,
                attempt=attempt,
            )
            if outcome == "lost_lease":
                raise LeaseLost()
            if outcome != "failed":
                if outcome == "handled":
                    self.handled += 1
                return
            await asyncio.sleep(min(30, 2**attempt))


def run_watcher(**kwargs) -> None:
    """Run a watcher until SIGINT/SIGTERM (the `mailherd imap_watch` command)."""
    import signal

    async def main():
        watcher = Watcher(**kwargs)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, watcher.stop)
        await watcher.run()

    asyncio.run(main())
