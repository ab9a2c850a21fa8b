"""Mailcow's HTTP surface: ``/api/v1/<action>/<category>[/<object>[/<extra>]]``.

Reproduces ``json_api.php`` as recorded (reference §1-4): the order of the
dispatcher's checks (auth 401 first, then per action the 403 read/write
check, the "Cannot find attributes" check, the method check giving 405, then
the category switch giving 404), body decoding (JSON or legacy form posts,
400 for bad JSON), the session cookie that on its own authenticates (§2),
``{}`` for empty answers, pretty-printed GETs, compact write envelopes with
the generic fallbacks ("Task completed", "Cannot add item").
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from .control import SimControl, down_page
from .models import UncaughtPdoError
from .reads import NO_ROUTE, RAW, READS
from .state import SimState, entry

SESSION_COOKIE = "MCSESSID"
MAX_SESSIONS = 10_000
COMMON_HEADERS = {
    "Vary": "Origin",
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTION, OPTIONS",
    "Access-Control-Allow-Headers": "Accept, Content-Type, X-Api-Key, Origin",
}
_KEY_STRIP = re.compile(r"[^A-Za-z0-9-]")
Writer = Callable[
    [SimState, str | None, dict[str, Any], list[Any]], tuple[list[dict[str, Any]], bool]
]


class IntentionalDrop(Exception):
    """Raised by the ``drop`` fault after the headers went out."""


@dataclass
class ApiKey:
    access: str  # "rw" | "ro"
    active: bool = True
    allow_from: tuple[str, ...] = ()


class KeyRing:
    """API keys (table ``api``) and PHP sessions created by them."""

    def __init__(self, rw_keys: Iterable[str] = (), ro_keys: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, ApiKey] = {}
        self._sessions: OrderedDict[str, str] = OrderedDict()
        for key in rw_keys:
            self.add(key, access="rw")
        for key in ro_keys:
            self.add(key, access="ro")

    def add(
        self, key: str, *, access: str = "rw", active: bool = True, allow_from: Any = None
    ) -> None:
        # MariaDB's utf8mb4_general_ci makes the lookup case-insensitive.
        nets = tuple(allow_from) if isinstance(allow_from, list | tuple) else ()
        with self._lock:
            self._keys[_KEY_STRIP.sub("", key).lower()] = ApiKey(access, active, nets)

    def check(self, header: str, client_ip: str) -> tuple[str | None, str | None]:
        """Return (access, None) for a good key, else (None, 401 message)."""
        found = self._keys.get(_KEY_STRIP.sub("", header).lower())
        if found is None or not found.active:
            return None, "authentication failed"
        if found.allow_from and not _ip_allowed(client_ip, found.allow_from):
            return None, f"api access denied for ip {client_ip}"
        return found.access, None

    def new_session(self, access: str) -> str:
        sid = secrets.token_hex(13)
        with self._lock:
            self._sessions[sid] = access
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return sid

    def session(self, sid: str | None) -> str | None:
        with self._lock:
            return self._sessions.get(sid) if sid else None

    def clear_sessions(self) -> None:
        with self._lock:
            self._sessions.clear()


def _ip_allowed(ip: str, allowed: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for item in allowed:
        try:
            if address in ipaddress.ip_network(item, strict=False):
                return True
        except ValueError:
            continue
    return False


def _php_json(data: Any, *, pretty: bool = False) -> str:
    """json_encode: escapes "/" (and non-ASCII unless pretty GET output)."""
    if pretty:
        text = json.dumps(data, indent=4, ensure_ascii=False)
    else:
        text = json.dumps(data, separators=(",", ":"))
    return text.replace("/", "\\/")


def _items(value: Any) -> list[Any]:
    """PHP (array)json_decode(items): scalars wrap, null is empty, dicts give values."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def _attr(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# -- writes: (action, category[, object]) -> state call -------------------------------


def _merge(key: str) -> Callable[[dict[str, Any], list[Any]], dict[str, Any]]:
    # array_merge(array(<key> => $items), $attr): attr wins on conflicts.
    return lambda attr, items: {key: items, **attr}


WRITES: dict[tuple[str, str], Writer] = {
    ("add", "domain"): lambda s, o, a, i: s.add_domain(a),
    ("add", "mailbox"): lambda s, o, a, i: s.add_mailbox(a),
    ("add", "alias"): lambda s, o, a, i: s.add_alias(a),
    ("add", "dkim"): lambda s, o, a, i: s.add_dkim(a),
    ("add", "dkim_import"): lambda s, o, a, i: s.import_dkim(a),
    ("add", "relayhost"): lambda s, o, a, i: s.add_relayhost(a),
    ("add", "domain-admin"): lambda s, o, a, i: s.add_domain_admin(a),
    ("add", "app-passwd"): lambda s, o, a, i: s.add_app_passwd(a),
    ("add", "syncjob"): lambda s, o, a, i: s.add_syncjob(a),
    ("add", "filter"): lambda s, o, a, i: s.add_filter(a),
    ("add", "alias-domain"): lambda s, o, a, i: s.add_alias_domain(a),
    ("add", "domain-policy"): lambda s, o, a, i: s.add_domain_policy(a),
    ("edit", "alias-domain"): lambda s, o, a, i: s.edit_alias_domain(_merge("alias_domain")(a, i)),
    ("delete", "alias-domain"): lambda s, o, a, i: s.delete_alias_domain({"alias_domain": i}),
    ("delete", "domain-policy"): lambda s, o, a, i: s.delete_domain_policy({"prefid": i}),
    ("edit", "domain"): lambda s, o, a, i: s.edit_domain(_merge("domain")(a, i)),
    ("edit", "mailbox"): lambda s, o, a, i: s.edit_mailbox(_merge("username")(a, i)),
    ("edit", "alias"): lambda s, o, a, i: s.edit_alias(_merge("id")(a, i)),
    ("edit", "rl-domain"): lambda s, o, a, i: s.edit_ratelimit("domain", _merge("object")(a, i)),
    ("edit", "rl-mbox"): lambda s, o, a, i: s.edit_ratelimit("mailbox", _merge("object")(a, i)),
    ("edit", "qitem"): lambda s, o, a, i: s.edit_qitem(_merge("id")(a, i)),
    ("edit", "identity-provider"): lambda s, o, a, i: s.edit_identity_provider(a),
    ("edit", "identity-provider-test"): lambda s, o, a, i: s.test_identity_provider(a),
    ("edit", "relayhost"): lambda s, o, a, i: s.edit_relayhost(_merge("id")(a, i)),
    ("edit", "syncjob"): lambda s, o, a, i: s.edit_syncjob(_merge("id")(a, i)),
    ("edit", "quarantine_notification"): lambda s, o, a, i: s.edit_quarantine_setting(
        "quarantine_notification", ("never", "hourly", "daily", "weekly"), _merge("username")(a, i)
    ),
    ("edit", "quarantine_category"): lambda s, o, a, i: s.edit_quarantine_setting(
        "quarantine_category", ("add_header", "reject", "all"), _merge("username")(a, i)
    ),
    ("edit", "spam-score"): lambda s, o, a, i: s.edit_spam_score(_merge("username")(a, i)),
    ("delete", "domain"): lambda s, o, a, i: s.delete_domain({"domain": i}),
    ("delete", "mailbox"): lambda s, o, a, i: s.delete_mailbox({"username": i}),
    ("delete", "alias"): lambda s, o, a, i: s.delete_alias({"id": i}),
    ("delete", "dkim"): lambda s, o, a, i: s.delete_dkim({"domains": i}),
    ("delete", "relayhost"): lambda s, o, a, i: s.delete_relayhost({"id": i}),
    ("delete", "domain-admin"): lambda s, o, a, i: s.delete_domain_admin({"username": i}),
    ("delete", "app-passwd"): lambda s, o, a, i: s.delete_app_passwd({"id": i}),
    ("delete", "syncjob"): lambda s, o, a, i: s.delete_syncjob({"id": i}),
    ("delete", "filter"): lambda s, o, a, i: s.delete_filter({"id": i}),
    ("delete", "qitem"): lambda s, o, a, i: s.delete_qitem({"id": i}),
    ("delete", "identity-provider"): lambda s, o, a, i: s.delete_identity_provider({"items": i}),
}
GENERIC_FAILURE = {
    "add": "Cannot add item",
    "edit": "Cannot edit item",
    "delete": "Cannot delete item",
}


class MailcowApi:
    """The ASGI endpoint for ``/api/v1/{query:path}``."""

    def __init__(self, state: SimState, control: SimControl, keys: KeyRing) -> None:
        self.state = state
        self.control = control
        self.keys = keys

    def _respond(
        self,
        status: int,
        body: str | bytes,
        cookie: str | None,
        content_type: str = "application/json",
    ) -> Response:
        headers = dict(COMMON_HEADERS)
        if cookie:
            headers["Set-Cookie"] = f"{SESSION_COOKIE}={cookie}; path=/; HttpOnly; SameSite=Lax"
        return Response(body, status_code=status, headers=headers, media_type=content_type)

    def _error(self, status: int, msg: str, cookie: str | None) -> Response:
        return self._respond(status, _php_json({"type": "error", "msg": msg}), cookie)

    async def endpoint(self, request: Request) -> Response:
        started = time.monotonic()
        parts = request.path_params["query"].split("/")
        action, category = parts[0], (parts[1] if len(parts) > 1 else None)
        obj = parts[2] if len(parts) > 2 else None
        extra = parts[3] if len(parts) > 3 else None
        raw = await request.body()
        # Recorded on arrival, so a request whose client timed out is counted
        # in its own test, not in whichever test runs when the answer is ready.
        record = {
            "method": request.method,
            "path": request.url.path,
            "action": action,
            "category": category,
            "status": None,
            "body": _decoded_body(raw),
            "has_key": "x-api-key" in request.headers,
            "has_cookie": "cookie" in request.headers,
            "ms": None,
        }
        self.control.record(record)
        fault = self.control.take_fault(action)
        await self.control.delay(fault)
        response = self._fault_response(fault, action, category) if fault else None
        if response is None:
            response = self._handle(request, raw, action, category, obj, extra)
        record["status"] = response.status_code
        record["ms"] = round((time.monotonic() - started) * 1000, 2)
        if fault is not None and fault.mode == "drop":
            return _DropResponse()
        return response

    def _fault_response(self, fault: Any, action: str, category: str | None) -> Response | None:
        if fault.mode == "down":
            return self._respond(500, down_page(fault.message), None, "text/html")
        if fault.mode == "http":
            headers_body = _php_json({"type": "error", "msg": f"simulated HTTP {fault.status}"})
            response = self._respond(fault.status, headers_body, None)
            if fault.retry_after is not None:
                response.headers["Retry-After"] = fault.retry_after
            return response
        if fault.mode == "error_in_200":
            log = ["mailbox", action, category, {}, None]
            msg = ["mysql_error", "SQLSTATE[HY000] [2002] Connection refused"]
            return self._respond(200, _php_json([entry("danger", log, msg)]), None)
        return None  # slow and drop answer normally (drop cuts it afterwards)

    def _handle(
        self,
        request: Request,
        raw: bytes,
        action: str,
        category: str | None,
        obj: str | None,
        extra: str | None,
    ) -> Response:
        # Browser-navigation guard (§1).
        dest = request.headers.get("sec-fetch-dest")
        if dest is not None and dest != "empty":
            return self._respond(403, b"", None)
        # Authentication (prerequisites.inc.php runs before json_api.php).
        cookie_out: str | None = None
        access: str | None = None
        header = request.headers.get("x-api-key")
        client_ip = request.client.host if request.client else "127.0.0.1"
        if header is not None:
            access, failure = self.keys.check(header, client_ip)
            if failure:
                # Mailcow writes this answer before its JSON header (reference §10).
                return self._respond(
                    401,
                    _php_json({"type": "error", "msg": failure}),
                    None,
                    content_type="text/html; charset=utf-8",
                )
            assert access is not None
            cookie_out = self.keys.new_session(access)
        else:
            access = self.keys.session(request.cookies.get(SESSION_COOKIE))
            if access is None:
                cookie_out = secrets.token_hex(13)  # an empty session
        content_type = request.headers.get("content-type", "")
        attr_present, attr, items = self._decode(raw, content_type, action)
        if attr_present is None:
            return self._error(400, "Request body doesn't contain valid json!", cookie_out)
        method = request.method
        if action == "get":
            if method != "GET":
                return self._error(405, "only GET method is allowed", cookie_out)
            if access is None:
                return self._respond(200, b"", cookie_out)  # no key: empty body (§2)
            return self._read(category, obj, extra, dict(request.query_params), cookie_out)
        if action not in ("add", "edit", "delete"):
            return self._error(404, "route not found", cookie_out)
        if access == "ro" or (access is None and action != "add"):
            return self._error(403, "API read/write access denied", cookie_out)
        if not attr_present:
            return self._respond(
                200,
                _php_json({"type": "error", "msg": "Cannot find attributes in post data"}),
                cookie_out,
            )
        if method != "POST":
            return self._error(405, "only POST method is allowed", cookie_out)
        if action == "add" and category == "sso" and obj == "domain-admin":
            return self._sso(attr, access, cookie_out)
        writer = WRITES.get((action, category or ""))
        if writer is None:
            return self._error(404, "route not found", cookie_out)
        if access is None:
            # No key on add: each Mailcow function refuses with access_denied.
            log = ["mailbox", "add", category, attr, None]
            return self._respond(
                200, _php_json([entry("danger", log, "access_denied")]), cookie_out
            )
        try:
            entries, ok = writer(self.state, obj, attr, items)
        except UncaughtPdoError:
            return self._respond(200, b"", cookie_out)
        if entries:
            return self._respond(200, _php_json(entries), cookie_out)
        fallback = (
            {"type": "success", "msg": "Task completed"}
            if ok
            else {"type": "error", "msg": GENERIC_FAILURE[action]}
        )
        return self._respond(200, _php_json(fallback), cookie_out)

    @staticmethod
    def _decode(
        raw: bytes, content_type: str, action: str
    ) -> tuple[bool | None, dict[str, Any], list[Any]]:
        """Return (attr present? None = bad JSON, attr, items) like json_api.php."""
        if "application/json" in content_type:
            try:
                decoded = json.loads(raw) if raw.strip() else None
            except ValueError:
                decoded = None
            if action != "get" and decoded is None:
                return None, {}, []
            if action == "add":
                return True, _attr(decoded), []
            if action == "edit":
                data = decoded if isinstance(decoded, dict) else {}
                return True, _attr(data.get("attr")), _items(data.get("items"))
            return True, {}, _items(decoded)
        form = parse_qs(raw.decode("utf-8", "replace")) if "form" in content_type else {}
        key = "items" if action == "delete" else "attr"
        if key not in form:
            return False, {}, []
        try:
            attr = json.loads(form["attr"][0]) if "attr" in form else {}
            items = json.loads(form["items"][0]) if "items" in form else None
        except ValueError:
            attr, items = {}, None
        return True, _attr(attr), _items(items)

    def _read(
        self,
        category: str | None,
        obj: str | None,
        extra: str | None,
        query: dict[str, str],
        cookie: str | None,
    ) -> Response:
        handler = READS.get(category or "")
        if handler is None:
            return self._error(404, "route not found", cookie)
        function, empty_text = handler
        with self.state.lock:
            data = function(self.state, obj, extra, query)
        if data is NO_ROUTE:
            return self._error(404, "route not found", cookie)
        if isinstance(data, tuple) and data and data[0] is RAW:
            payload = data[1]
            return self._respond(200, "" if payload == "" else _php_json(payload), cookie)
        if not data:
            return self._respond(200, empty_text, cookie)
        return self._respond(200, _php_json(data, pretty=True), cookie)

    def _sso(self, attr: dict[str, Any], access: str | None, cookie: str | None) -> Response:
        if access is None:
            log = ["domain_admin_sso", "issue", attr]
            return self._respond(200, _php_json([entry("danger", log, "access_denied")]), cookie)
        entries, token = self.state.issue_sso_token(attr)
        if token is not None:
            return self._respond(200, _php_json(token), cookie)
        return self._respond(200, _php_json(entries), cookie)


def _decoded_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:500]


class _DropResponse(Response):
    """Send the headers, then abort: the client sees the connection close."""

    def __init__(self) -> None:
        super().__init__(b"", status_code=200)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
            }
        )
        raise IntentionalDrop("simulated connection drop")


class _HideIntentionalDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, IntentionalDrop)


logging.getLogger("uvicorn.error").addFilter(_HideIntentionalDrops())
