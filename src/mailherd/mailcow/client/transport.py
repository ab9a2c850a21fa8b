"""The one request path of the Mailcow client.

Every call goes through ``Transport.get`` or ``Transport.write``, which:

1. sends the request on a pooled ``httpx.Client`` with explicit timeouts and
   no cookie persistence (Mailcow's ``MCSESSID`` cookie alone grants admin
   rights, reference §2: keeping it would outlive a revoked key);
2. retries safe reads on connection failures, 429 and 5xx with capped,
   jittered exponential backoff honouring ``Retry-After``; retries a write
   only when the connection was never established (nothing was sent);
3. turns every failure into a typed exception from ``errors.py``, redacting
   the API key from anything it keeps, and never logging bodies;
4. for writes, parses the envelope (a list of entries or one object) and
   raises if *any* entry is ``danger``/``error``, even beside a success.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.cookiejar
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from . import constants as c
from .errors import (
    MailcowApiError,
    MailcowAuthError,
    MailcowBadRequest,
    MailcowBusinessError,
    MailcowConnectionError,
    MailcowError,
    MailcowMethodNotAllowed,
    MailcowNoKey,
    MailcowNotFoundRoute,
    MailcowPermissionError,
    MailcowProtocolError,
    MailcowRateLimited,
    MailcowServerError,
    MailcowTimeout,
    ResultEntry,
    business_error_class,
)

logger = logging.getLogger("mailherd.mailcow.client")

_TAGS = re.compile(r"<[^>]+>")


class _RejectAllCookies(http.cookiejar.CookiePolicy):
    """Cookie policy that neither stores nor sends any cookie."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: Any) -> bool:
        return False

    def path_return_ok(self, path: str, request: Any) -> bool:
        return False


def cookieless_jar() -> http.cookiejar.CookieJar:
    """Return a cookie jar that refuses every cookie."""
    return http.cookiejar.CookieJar(policy=_RejectAllCookies())


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Return the delay in seconds a ``Retry-After`` header asks for, or None.

    >>> parse_retry_after("3")
    3.0
    >>> parse_retry_after("soon") is None
    True
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds)


def backoff_delay(attempt: int, retry_after: float | None = None) -> float:
    """Return how long to wait before retry number ``attempt`` (0-based).

    Exponential from INITIAL_RETRY_DELAY, capped at MAX_RETRY_DELAY, with
    "equal jitter" (half fixed, half random) so that workers retrying after
    the same outage do not hammer Mailcow in lockstep. A server's
    Retry-After wins when given, capped at MAX_RETRY_AFTER.
    """
    if retry_after is not None:
        return min(retry_after, c.MAX_RETRY_AFTER)
    ceiling = min(c.MAX_RETRY_DELAY, c.INITIAL_RETRY_DELAY * (2**attempt))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class Transport:
    """HTTP plumbing shared by every MailcowClient method (not public API)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: httpx.Timeout,
        limits: httpx.Limits,
        max_retries: int,
        verify: bool | str,
        transport: httpx.BaseTransport | None,
        sleep: Callable[[float], None],
        user_agent: str,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._max_retries = max_retries
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url + c.API_PREFIX,
            headers={
                c.API_KEY_HEADER: api_key,
                "Accept": "application/json",
                "User-Agent": user_agent,
            },
            timeout=timeout,
            limits=limits,
            verify=verify,
            transport=transport,
            cookies=cookieless_jar(),
            follow_redirects=False,
            trust_env=False,
        )

    def close(self) -> None:
        self._http.close()

    @property
    def cookie_count(self) -> int:
        """Number of cookies held (always 0: see the module docstring)."""
        return len(self._http.cookies.jar)

    # -- public entry points ------------------------------------------------

    def get(self, path: str) -> Any:
        """GET ``/api/v1/<path>`` and return the decoded JSON (retried)."""
        with self._scrubbed():
            response = self._send("GET", path, None, idempotent=True)
            return self._decode(response, "GET", path, read=True)

    def write(
        self,
        path: str,
        body: Any,
        *,
        overrides: dict[str, type[MailcowBusinessError]] | None = None,
    ) -> tuple[ResultEntry, ...]:
        """POST ``body`` as JSON to ``/api/v1/<path>``; return the entries.

        Raises the mapped MailcowBusinessError subclass if any entry failed.
        """
        with self._scrubbed():
            response = self._send("POST", path, body, idempotent=False)
            data = self._decode(response, "POST", path, read=False)
            return self.check_envelope(data, path, overrides)

    def post_raw(self, path: str, body: Any) -> Any:
        """POST and return the decoded JSON without envelope checks.

        For the few endpoints that answer with a bare object on success
        (``add/sso/domain-admin`` gives ``{"token": ...}``).
        """
        with self._scrubbed():
            response = self._send("POST", path, body, idempotent=False)
            return self._decode(response, "POST", path, read=False)

    # -- internals ----------------------------------------------------------

    @contextlib.contextmanager
    def _scrubbed(self) -> Iterator[None]:
        """Redact the API key from every field of an escaping MailcowError.

        Mailcow never echoes the key, but a proxy or a future endpoint might;
        the error's text, message key, arguments, body and entries are all
        cleaned, so logging or displaying an exception is always safe.
        """
        try:
            yield
        except MailcowError as error:
            self._scrub(error)
            raise

    def _scrub(self, error: MailcowError) -> None:
        def clean(value: Any) -> Any:
            return self._redact(value) if isinstance(value, str) else value

        error.message = clean(error.message)
        error.msg_key = clean(error.msg_key)
        error.body = clean(error.body)
        error._msg_args = tuple(clean(a) for a in error.msg_args)
        Exception.__init__(error, error.message)
        if isinstance(error, MailcowBusinessError):
            error.entries = tuple(
                ResultEntry(e.type, clean(e.msg_key), tuple(clean(a) for a in e.args))
                for e in error.entries
            )

    def _redact(self, text: str) -> str:
        if self._api_key and self._api_key.lower() in text.lower():
            text = re.sub(re.escape(self._api_key), "[redacted]", text, flags=re.IGNORECASE)
        return text

    def _excerpt(self, response: httpx.Response) -> str:
        text = response.text[: c.MAX_ERROR_BODY_CHARS]
        return self._redact(text)

    def _send(self, method: str, path: str, body: Any, *, idempotent: bool) -> httpx.Response:
        """Send with the retry policy; return a response that is not retryable."""
        attempt = 0
        while True:
            started = time.monotonic()
            retry_after: float | None = None
            try:
                if body is None:
                    response = self._http.request(method, "/" + path)
                else:
                    response = self._http.request(method, "/" + path, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached the server: safe to repeat even for a write.
                error: MailcowError = self._connection_error(exc, method, path, sent=False)
            except httpx.TransportError as exc:
                error = self._connection_error(exc, method, path, sent=True)
                if not idempotent:
                    raise error from None
            else:
                elapsed_ms = (time.monotonic() - started) * 1000
                logger.debug(
                    "mailcow %s %s -> %s in %.0f ms (attempt %d)",
                    method,
                    path,
                    response.status_code,
                    elapsed_ms,
                    attempt + 1,
                )
                status = response.status_code
                if not (idempotent and (status == 429 or status >= 500)):
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                error = self._status_error(response, method, path)
            if attempt >= self._max_retries:
                raise error from None
            delay = backoff_delay(attempt, retry_after)
            logger.info(
                "mailcow %s %s failed (%s); retry %d/%d in %.2f s",
                method,
                path,
                type(error).__name__,
                attempt + 1,
                self._max_retries,
                delay,
            )
            self._sleep(delay)
            attempt += 1

    def _connection_error(
        self, exc: httpx.TransportError, method: str, path: str, *, sent: bool
    ) -> MailcowConnectionError:
        cls = MailcowTimeout if isinstance(exc, httpx.TimeoutException) else MailcowConnectionError
        detail = self._redact(str(exc) or type(exc).__name__)
        return cls(
            f"cannot reach Mailcow at {self.base_url}: {type(exc).__name__}: {detail}",
            method=method,
            path=path,
            sent=sent,
        )

    def _status_error(self, response: httpx.Response, method: str, path: str) -> MailcowApiError:
        """Map a non-200 response to its exception."""
        status = response.status_code
        where = {"method": method, "path": path, "status": status}
        msg = _json_msg(response)
        if status == 401:
            if msg and msg.startswith("api access denied for ip"):
                ip = msg.rsplit(" ", 1)[-1]
                return MailcowAuthError(
                    f"Mailcow refused this client's IP {ip} for the API key (allow_from)",
                    reason="ip_denied",
                    client_ip=ip,
                    msg_key=msg,
                    **where,
                )
            return MailcowAuthError(
                "Mailcow rejected the API key (unknown or inactive)",
                reason="bad_key",
                msg_key=msg or "authentication failed",
                **where,
            )
        if status == 403:
            if not response.content:
                return MailcowPermissionError(
                    "Mailcow refused the request (browser-navigation guard)",
                    reason="forbidden",
                    **where,
                )
            return MailcowPermissionError(
                "Mailcow denied write access: the API key is read-only (or missing)",
                reason="read_only",
                msg_key=msg,
                **where,
            )
        if status == 400:
            return MailcowBadRequest(
                "Mailcow could not parse the request body", msg_key=msg, **where
            )
        if status == 404:
            return MailcowNotFoundRoute("Mailcow has no such API route", msg_key=msg, **where)
        if status == 405:
            return MailcowMethodNotAllowed(
                f"Mailcow: {msg or 'method not allowed'}", msg_key=msg, **where
            )
        if status == 429:
            return MailcowRateLimited(
                "Mailcow (or its proxy) is rate limiting",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                body=self._excerpt(response),
                **where,
            )
        if status >= 500:
            text = " ".join(_TAGS.sub(" ", response.text).split())[: c.MAX_ERROR_BODY_CHARS]
            return MailcowServerError(
                f"Mailcow server error: {self._redact(text) or 'no details'}",
                msg_key=msg,
                body=self._excerpt(response),
                **where,
            )
        return MailcowApiError(
            f"unexpected HTTP {status} from Mailcow", body=self._excerpt(response), **where
        )

    def _decode(self, response: httpx.Response, method: str, path: str, *, read: bool) -> Any:
        """Return the JSON of a 200 answer, or raise the mapped exception."""
        if response.status_code != 200:
            raise self._status_error(response, method, path)
        where = {"method": method, "path": path, "status": 200}
        if not response.content.strip():
            if read:
                # Mailcow answers a read without a (recognised) session with
                # a 200 and zero bytes (reference §2).
                raise MailcowNoKey(
                    "Mailcow returned an empty body: it saw no API key "
                    "(header missing or stripped by a proxy)",
                    **where,
                )
            raise MailcowProtocolError("Mailcow returned an empty body to a write", **where)
        try:
            return json.loads(response.content)
        except ValueError:
            raise MailcowProtocolError(
                "Mailcow returned a body that is not JSON", body=self._excerpt(response), **where
            ) from None

    def check_envelope(
        self,
        data: Any,
        path: str,
        overrides: dict[str, type[MailcowBusinessError]] | None = None,
    ) -> tuple[ResultEntry, ...]:
        """Normalise the envelope and raise if any entry failed."""
        if isinstance(data, dict) and "type" in data:
            items: list[Any] = [data]
        elif isinstance(data, list) and data:
            items = data
        else:
            raise MailcowProtocolError(
                "Mailcow answered a write with an unexpected shape",
                method="POST",
                path=path,
                status=200,
                body=self._redact(json.dumps(data)[: c.MAX_ERROR_BODY_CHARS]),
            )
        entries = tuple(ResultEntry.from_api(item) for item in items)
        failed = [e for e in entries if e.failed]
        if failed:
            first = failed[0]
            cls = business_error_class(first.msg_key, overrides)
            summary = "; ".join(
                e.msg_key + (" " + ", ".join(map(str, e.args)) if e.args else "") for e in failed
            )
            raise cls(
                f"Mailcow refused: {self._redact(summary)}",
                method="POST",
                path=path,
                status=200,
                msg_key=first.msg_key,
                args=first.args,
                entries=entries,
            )
        return entries


def _json_msg(response: httpx.Response) -> str | None:
    """Return ``msg`` of a ``{"type": "error", "msg": ...}`` body, if any."""
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("msg"), str):
        return data["msg"]
    return None
