"""Exceptions raised by the Mailcow client.

One hierarchy, so callers catch what they mean::

    MailcowError
    ├── MailcowConnectionError        retryable: nothing usable came back
    │   └── MailcowTimeout
    └── MailcowApiError               Mailcow answered, and said no
        ├── MailcowAuthError          401: bad key or IP not allowed (``reason``)
        │   └── MailcowNoKey          200 with an empty body on a read
        ├── MailcowPermissionError    403: read-only key writing, or no key
        ├── MailcowBadRequest         400: body was not valid JSON
        ├── MailcowNotFoundRoute      404: unknown action/category
        ├── MailcowMethodNotAllowed   405
        ├── MailcowRateLimited        429 (retryable)
        ├── MailcowServerError        5xx, incl. Mailcow's HTML "Connection to Redis failed" (retryable)
        ├── MailcowProtocolError      a 200 the client cannot understand
        └── MailcowBusinessError      HTTP 200 with a ``danger``/``error`` entry
            ├── MailcowAlreadyExists
            ├── MailcowNotFound
            ├── MailcowQuotaError
            ├── MailcowInvalidInput
            │   └── MailcowValidationError   rejected by the client, nothing sent
            ├── MailcowDomainNotEmpty
            └── MailcowBackendError   mysql_error/redis_error (retryable)

Every exception keeps ``method``, ``path``, ``status``, ``msg_key`` and
``args``; none of them ever holds the API key (the transport redacts bodies,
and requests' headers are never stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ResultEntry:
    """One entry of Mailcow's add/edit/delete answer.

    ``type`` is ``success``, ``danger``, ``warning``, ``info`` or ``error``;
    ``msg_key`` is the translation id (``"domain_exists"``) and ``args`` the
    rest of a list ``msg`` (``["max_mailbox_exceeded", 3, 3]`` gives
    ``args == (3, 3)``). The ``log`` element is dropped on purpose: Mailcow
    does not mask passwords in it for relayhosts and sync jobs.
    """

    type: str
    msg_key: str
    args: tuple[Any, ...] = ()

    @property
    def failed(self) -> bool:
        """Return True if this entry makes the whole call a failure."""
        return self.type in ("danger", "error")

    @classmethod
    def from_api(cls, obj: Any) -> ResultEntry:
        """Build an entry from one element of the envelope (a dict)."""
        if not isinstance(obj, dict):
            return cls(type="error", msg_key=str(obj))
        msg = obj.get("msg")
        if isinstance(msg, list) and msg:
            key, args = str(msg[0]), tuple(msg[1:])
        elif msg is None:
            key, args = "", ()
        else:
            key, args = str(msg), ()
        return cls(type=str(obj.get("type", "")), msg_key=key, args=args)


class MailcowError(Exception):
    """Base class: something went wrong talking to a Mailcow server.

    Attributes: ``method`` and ``path`` of the request (path below the base
    URL, never carrying the key), ``status`` (HTTP status or None when no
    response came back), ``msg_key`` and ``args`` (Mailcow's message), and
    ``body`` (a short, redacted excerpt of an unexpected body, or None).
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        msg_key: str | None = None,
        args: Sequence[Any] = (),
        body: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.msg_key = msg_key
        self._msg_args = tuple(args)
        self.body = body

    # ``Exception.args`` is taken by the standard library; expose Mailcow's
    # message arguments under a clear name as well.
    @property
    def msg_args(self) -> tuple[Any, ...]:
        """Arguments of Mailcow's message (``(3, 3)`` for max_mailbox_exceeded)."""
        return self._msg_args

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors defeat Exception's default pickling; Celery
        # and multiprocessing pickle exceptions, so restore from the state.
        return (_restore_error, (type(self), self.message, self.__dict__.copy()))

    def __str__(self) -> str:
        parts = [self.message]
        where = " ".join(p for p in (self.method, self.path) if p)
        if where:
            parts.append(f"[{where}]")
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.msg_key:
            detail = self.msg_key
            if self._msg_args:
                detail += " " + ", ".join(repr(a) for a in self._msg_args)
            parts.append(f"msg={detail}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, method={self.method!r}, "
            f"path={self.path!r}, status={self.status!r}, msg_key={self.msg_key!r}, "
            f"args={self._msg_args!r})"
        )


def _restore_error(cls: type[MailcowError], message: str, state: dict[str, Any]) -> MailcowError:
    """Unpickle helper for MailcowError (see ``MailcowError.__reduce__``)."""
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class MailcowConnectionError(MailcowError):
    """No usable answer: refused, reset, DNS failure, dropped mid-response.

    ``sent`` tells whether the request may have reached the server (False for
    connect failures: then even a write is safe to repeat).
    """

    retryable = True

    def __init__(self, message: str, *, sent: bool = True, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.sent = sent


class MailcowTimeout(MailcowConnectionError):
    """A connect, read, write or pool timeout."""


class MailcowApiError(MailcowError):
    """Mailcow answered with an error (HTTP status or an error inside a 200)."""


class MailcowAuthError(MailcowApiError):
    """401. ``reason`` says which: ``"bad_key"`` (unknown or inactive key) or
    ``"ip_denied"`` (key valid but the caller's IP is not in ``allow_from``;
    ``client_ip`` is the IP Mailcow saw). ``"no_key"`` for MailcowNoKey."""

    def __init__(self, message: str, *, reason: str, client_ip: str | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.reason = reason
        self.client_ip = client_ip


class MailcowNoKey(MailcowAuthError):
    """A read answered 200 with an empty body: Mailcow saw no API key."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, reason="no_key", **kwargs)


class MailcowPermissionError(MailcowApiError):
    """403 "API read/write access denied": a read-only key (or no key) tried to
    write; an empty 403 body is the browser-navigation guard (``reason``)."""

    def __init__(self, message: str, *, reason: str = "read_only", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason


class MailcowBadRequest(MailcowApiError):
    """400: Mailcow could not parse the JSON body."""


class MailcowNotFoundRoute(MailcowApiError):
    """404 "route not found": unknown action or category (a client bug or an
    older Mailcow without this endpoint)."""


class MailcowMethodNotAllowed(MailcowApiError):
    """405: wrong HTTP method for the action."""


class MailcowRateLimited(MailcowApiError):
    """429 from a proxy in front of Mailcow. ``retry_after`` in seconds or None."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class MailcowServerError(MailcowApiError):
    """5xx, usually with an HTML body when Redis, MariaDB or dockerapi is down."""

    retryable = True


class MailcowProtocolError(MailcowApiError):
    """HTTP 200 whose body is not the JSON shape the endpoint documents."""


class MailcowBusinessError(MailcowApiError):
    """HTTP 200 carrying at least one ``danger``/``error`` entry.

    ``entries`` holds every entry of the answer (successes too); ``partial``
    is True when some entry succeeded: Mailcow has no transactions, so part
    of the request may have been applied (see the alias splitting quirk).
    """

    def __init__(self, message: str, *, entries: Sequence[ResultEntry] = (), **kwargs: Any):
        super().__init__(message, **kwargs)
        self.entries = tuple(entries)

    @property
    def partial(self) -> bool:
        """Return True if part of the request succeeded despite the error."""
        return any(e.type == "success" for e in self.entries)


class MailcowAlreadyExists(MailcowBusinessError):
    """The object (or a clashing one: an alias on a mailbox address) exists."""


class MailcowNotFound(MailcowBusinessError):
    """The object does not exist. Mailcow often says ``access_denied`` for
    that: with an admin key it has no other meaning for these calls."""


class MailcowQuotaError(MailcowBusinessError):
    """A domain limit was hit: quota, mailbox count, alias count."""


class MailcowInvalidInput(MailcowBusinessError):
    """Mailcow rejected a value (name, address, password, frame...)."""


class MailcowValidationError(MailcowInvalidInput):
    """The client rejected a value before sending anything. ``field`` names it."""

    def __init__(self, message: str, *, field: str, **kwargs: Any) -> None:
        super().__init__(message, msg_key=kwargs.pop("msg_key", "client_validation"), **kwargs)
        self.field = field

    def __str__(self) -> str:
        return f"{self.message} (field {self.field!r}; rejected by the client, nothing was sent)"


class MailcowDomainNotEmpty(MailcowBusinessError):
    """delete/domain refused: the domain still has mailboxes."""


class MailcowBackendError(MailcowBusinessError):
    """Mailcow's database or Redis failed inside a 200 answer (transient)."""

    retryable = True


# Message keys mapped to the specific classes callers need. Keys not listed
# give a plain MailcowBusinessError. Per-call overrides exist where one key
# means different things (``domain_invalid`` from edit/domain = unknown domain).
MESSAGE_CLASSES: dict[str, type[MailcowBusinessError]] = {
    **dict.fromkeys(
        (
            "domain_exists",
            "object_exists",
            "is_alias_or_mailbox",
            "is_alias",
            "is_spam_alias",
            "aliasd_exists",
            "alias_domain_exists",
        ),
        MailcowAlreadyExists,
    ),
    **dict.fromkeys(
        (
            "domain_not_found",
            "access_denied",
            "alias_invalid",
            "object_doesnt_exist",
            "targetd_not_found",
            "mailbox_not_found",
        ),
        MailcowNotFound,
    ),
    **dict.fromkeys(
        (
            "mailbox_quota_exceeded",
            "mailbox_quota_left_exceeded",
            "max_mailbox_exceeded",
            "max_alias_exceeded",
            "mailbox_quota_exceeds_domain_quota",
            "mailbox_defquota_exceeds_mailbox_maxquota",
            "defquota_empty",
            "maxquota_empty",
            "mailboxes_in_use",
            "max_quota_in_use",
            "domain_quota_m_in_use",
            "aliases_in_use",
            "unlimited_quota_acl",
        ),
        MailcowQuotaError,
    ),
    **dict.fromkeys(
        (
            "domain_invalid",
            "mailbox_invalid",
            "goto_invalid",
            "goto_empty",
            "alias_empty",
            "password_complexity",
            "password_mismatch",
            "password_empty",
            "rl_timeframe",
            "username_invalid",
            "invalid_host",
            "dkim_domain_or_sel_invalid",
            "domain_cannot_match_hostname",
            "sieve_error",
            "comment_too_long",
            "object_is_not_numeric",
            "target_domain_invalid",
            "description_invalid",
            "app_name_empty",
            "app_passwd_id_invalid",
        ),
        MailcowInvalidInput,
    ),
    "domain_not_empty": MailcowDomainNotEmpty,
    "mysql_error": MailcowBackendError,
    "redis_error": MailcowBackendError,
}


def business_error_class(
    msg_key: str, overrides: dict[str, type[MailcowBusinessError]] | None = None
) -> type[MailcowBusinessError]:
    """Return the exception class for a failing entry's message key."""
    if overrides and msg_key in overrides:
        return overrides[msg_key]
    return MESSAGE_CLASSES.get(msg_key, MailcowBusinessError)
