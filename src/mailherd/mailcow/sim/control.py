"""The simulator's control plane, under the reserved ``/_sim/`` prefix.

Not part of Mailcow: tests and demos use it to reset state, inject latency
and faults, read request counters ("nothing was sent to Mailcow"), set usage
numbers that Dovecot would write, add API keys and quarantine items.

Routes (JSON in, JSON out; no authentication, the server binds 127.0.0.1):

- ``POST /_sim/reset``            state, faults, latency and counters to zero
- ``GET  /_sim/requests``         ``{"total", "by_route": {"add/domain": n}, "log": [...]}``
- ``DELETE /_sim/requests``       reset counters and log only
- ``POST /_sim/latency``          ``{"ms": 50}``: added to every API answer
- ``POST /_sim/fault``            ``{"mode", "count", "scope", "status", "retry_after", "ms", "message"}``
- ``DELETE /_sim/fault``          clear the fault
- ``POST /_sim/usage``            ``{"mailbox", "quota_used", "messages"}`` (bytes, count)
- ``POST /_sim/keys``             ``{"key", "access": "rw"|"ro", "active", "allow_from": [...]}``
- ``POST /_sim/quarantine``       ``{"rcpt", "sender", "subject", "score", "virus"}`` -> ``{"id"}``
- ``GET  /_sim/state``            a summary of domains, mailboxes, aliases, DKIM
- ``POST /_sim/login``            ``{"username", "password"}`` -> ``{"ok", "reason"}``: would Dovecot let
  this IMAP login in? (mailbox and domain active, password checked against the stored
  ``{SCHEME}`` value as Dovecot checks it: BLF-CRYPT, SHA512-CRYPT, ARGON2ID, SSHA256...)

Fault modes (``scope``: ``all``, ``read`` (get) or ``write`` (add/edit/delete);
``count``: how many requests it affects, null = until cleared):

- ``down``: HTTP 500 with Mailcow's HTML "Connection to Redis failed" page (§8)
- ``drop``: headers sent, then the connection is closed mid-response
- ``http``: any ``status`` (500, 502, 503, 429...) with a JSON body, optional
  ``Retry-After``
- ``error_in_200``: writes answer 200 with a danger ``mysql_error`` entry and
  change nothing
- ``slow``: wait ``ms`` before answering normally
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from .api import KeyRing
    from .state import SimState

FAULT_MODES = ("down", "drop", "http", "error_in_200", "slow")
FAULT_SCOPES = ("all", "read", "write")
DOWN_MESSAGES = {
    "redis": "Connection to Redis failed.<br /><br />The following error was reported:<br/>Connection refused",
    "dockerapi": "Connection to dockerapi container failed.<br /><br />The following error was reported:<br/>111 - Connection refused",
    "database": "Connection to database failed.<br /><br />The following error was reported:<br/>Connection refused",
}
LOG_SIZE = 1000


@dataclass
class Fault:
    mode: str
    scope: str = "all"
    remaining: int | None = None
    status: int = 500
    retry_after: str | None = None
    ms: int = 0
    message: str = "redis"

    def applies_to(self, action: str | None) -> bool:
        is_read = action == "get"
        return self.scope == "all" or (self.scope == "read") == is_read


@dataclass
class SimControl:
    """Latency, fault and request-log state shared by the API and /_sim/."""

    latency_ms: int = 0
    fault: Fault | None = None
    counts: Counter[str] = field(default_factory=Counter)
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_SIZE))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.latency_ms = 0
            self.fault = None
            self.counts.clear()
            self.log.clear()

    def take_fault(self, action: str | None) -> Fault | None:
        """Return the fault to apply to this request (consuming one count)."""
        with self.lock:
            fault = self.fault
            if fault is None or not fault.applies_to(action):
                return None
            if fault.mode == "error_in_200" and action not in ("add", "edit", "delete"):
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.fault = None
            return fault

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.counts[f"{entry['action']}/{entry['category']}"] += 1
            self.log.append(entry)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "total": sum(self.counts.values()),
                "by_route": dict(self.counts),
                "log": list(self.log),
            }

    async def delay(self, fault: Fault | None) -> None:
        total = self.latency_ms + (fault.ms if fault and fault.mode == "slow" else 0)
        if total > 0:
            await asyncio.sleep(total / 1000)


def down_page(which: str) -> str:
    """Mailcow's HTML error page when a backend is unreachable (§8)."""
    text = DOWN_MESSAGES.get(which, which)
    return f"<center style='font-family:sans-serif;'>{text}</center>"


def control_routes(state: SimState, control: SimControl, keys: KeyRing) -> list[Route]:
    """Build the /_sim/ routes bound to one simulator's objects."""

    async def body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        data = await request.json()
        return data if isinstance(data, dict) else {}

    async def reset(request: Request) -> Response:
        state.reset()
        control.reset()
        return JSONResponse({"ok": True})

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            with control.lock:
                control.counts.clear()
                control.log.clear()
            return JSONResponse({"ok": True})
        return JSONResponse(control.snapshot())

    async def latency(request: Request) -> Response:
        data = await body(request)
        control.latency_ms = max(0, int(data.get("ms", 0)))
        return JSONResponse({"latency_ms": control.latency_ms})

    async def fault(request: Request) -> Response:
        if request.method == "DELETE":
            control.fault = None
            return JSONResponse({"fault": None})
        data = await body(request)
        mode, scope = data.get("mode"), data.get("scope", "all")
        if mode not in FAULT_MODES or scope not in FAULT_SCOPES:
            return JSONResponse({"error": f"mode in {FAULT_MODES}, scope in {FAULT_SCOPES}"}, 400)
        count = data.get("count")
        control.fault = Fault(
            mode=mode,
            scope=scope,
            remaining=int(count) if count is not None else None,
            status=int(data.get("status", 500)),
            retry_after=str(data["retry_after"]) if data.get("retry_after") is not None else None,
            ms=int(data.get("ms", 0)),
            message=str(data.get("message", "redis")),
        )
        return JSONResponse({"fault": data})

    async def usage(request: Request) -> Response:
        data = await body(request)
        ok = state.set_usage(
            str(data.get("mailbox", "")),
            quota_used=data.get("quota_used"),
            messages=data.get("messages"),
        )
        return JSONResponse({"ok": ok}, 200 if ok else 404)

    async def add_key(request: Request) -> Response:
        data = await body(request)
        keys.add(
            str(data["key"]),
            access=str(data.get("access", "rw")),
            active=bool(data.get("active", True)),
            allow_from=data.get("allow_from"),
        )
        return JSONResponse({"ok": True})

    async def quarantine(request: Request) -> Response:
        item = state.add_quarantine_item(**(await body(request)))
        return JSONResponse({"id": item.id, "qid": item.qid})

    async def summary(request: Request) -> Response:
        with state.lock:
            data = {
                "domains": sorted(state.domains),
                "mailboxes": sorted(state.mailboxes),
                "aliases": sorted(a.address for a in state.aliases.values() if not a.is_self),
                "dkim": sorted(state.dkim),
                "released": [q.id for q in state.released],
                "time": time.time(),
            }
        return JSONResponse(data)

    async def login(request: Request) -> Response:
        from mailherd.hosting.passwords import verify_password

        data = await body(request)
        username, password = str(data.get("username", "")).lower(), str(data.get("password", ""))
        with state.lock:
            mailbox = state.mailboxes.get(username)
            domain = state.domains.get(mailbox.domain) if mailbox else None
            stored = mailbox.password if mailbox else ""
            active = bool(
                mailbox and mailbox.active == 1 and domain is not None and domain.active == 1
            )
        if mailbox is None:
            return JSONResponse({"ok": False, "reason": "unknown user"})
        if not verify_password(password, stored):
            return JSONResponse({"ok": False, "reason": "wrong password"})
        return JSONResponse({"ok": active, "reason": "" if active else "inactive"})

    return [
        Route("/_sim/login", login, methods=["POST"]),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/requests", requests, methods=["GET", "DELETE"]),
        Route("/_sim/latency", latency, methods=["POST"]),
        Route("/_sim/fault", fault, methods=["POST", "DELETE"]),
        Route("/_sim/usage", usage, methods=["POST"]),
        Route("/_sim/keys", add_key, methods=["POST"]),
        Route("/_sim/quarantine", quarantine, methods=["POST"]),
        Route("/_sim/state", summary, methods=["GET"]),
    ]
