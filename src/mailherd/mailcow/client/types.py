"""Typed results of the Mailcow client.

Units are explicit in every field name: ``*_bytes`` are bytes (what Mailcow's
GET answers hold), ``*_mib`` helpers convert to MiB (what Mailcow's requests
take). A quota of ``None`` means **unlimited** (Mailcow's ``0``). Timestamps
are naive ``datetime`` in the Mailcow server's local time, or None.

Secrets that Mailcow hands back (relayhost passwords in clear, app-password
hashes, sync-job passwords) are deliberately not copied into these objects.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .constants import MIB
from .errors import ResultEntry


class MailboxActive(enum.IntEnum):
    """Mailcow's three mailbox states (``active`` in GET and edit)."""

    DISABLED = 0
    ACTIVE = 1
    # The UI's third state: login is refused but mail is still received.
    NO_LOGIN = 2


class Protocol(enum.StrEnum):
    """Per-mailbox access flags (``<name>_access`` attributes)."""

    IMAP = "imap"
    POP3 = "pop3"
    SMTP = "smtp"
    SIEVE = "sieve"
    SOGO = "sogo"
    EAS = "eas"
    DAV = "dav"


def _int(value: Any, default: int = 0) -> int:
    """Mailcow mixes ints and numeric strings; return an int."""
    if value is None or value == "" or isinstance(value, bool):
        return int(value) if isinstance(value, bool) else default
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def _flag(value: Any) -> bool:
    return _int(value) == 1


def _quota(value: Any) -> int | None:
    """Bytes, with Mailcow's 0 = unlimited turned into None."""
    number = _int(value)
    return number if number > 0 else None


def _time(value: Any) -> datetime | None:
    """Parse "2026-11-23 06:20:07" or a unix timestamp; None if absent."""
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value)
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def mib(value_bytes: int | None) -> int | None:
    """Convert bytes to whole MiB (rounding down); None stays None (unlimited).

    >>> mib(524288000)
    500
    """
    return None if value_bytes is None else value_bytes // MIB


@dataclass(frozen=True)
class RateLimit:
    """A sending rate limit: ``value`` messages per one ``frame`` (s/m/h/d)."""

    value: int
    frame: str

    @classmethod
    def from_api(cls, obj: Any) -> RateLimit | None:
        """Parse ``{"value": "10", "frame": "s"}``; ``false``/``{}`` give None."""
        if not isinstance(obj, dict) or not obj.get("value") or not obj.get("frame"):
            return None
        value = _int(obj["value"])
        return cls(value=value, frame=str(obj["frame"])) if value > 0 else None


@dataclass(frozen=True)
class DomainTemplate:
    """A domain template (``get/domain/template/all``): the limits a new domain starts with."""

    name: str
    max_mailboxes: int
    max_aliases: int
    default_mailbox_quota_mib: int
    max_mailbox_quota_mib: int
    quota_mib: int

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> DomainTemplate:
        attributes = obj.get("attributes") or {}
        return cls(
            name=str(obj.get("template", "")),
            max_mailboxes=int(attributes.get("max_num_mboxes_for_domain", 0)),
            max_aliases=int(attributes.get("max_num_aliases_for_domain", 0)),
            default_mailbox_quota_mib=int(attributes.get("def_quota_for_mbox", 0)) // MIB,
            max_mailbox_quota_mib=int(attributes.get("max_quota_for_mbox", 0)) // MIB,
            quota_mib=int(attributes.get("max_quota_for_domain", 0)) // MIB,
        )


@dataclass(frozen=True)
class Domain:
    """A Mailcow domain (``get/domain/...``). Quotas in bytes, None = unlimited."""

    name: str
    unicode_name: str
    description: str
    active: bool
    max_mailboxes: int
    max_aliases: int
    mailbox_count: int
    alias_count: int
    quota_bytes: int | None
    max_mailbox_quota_bytes: int | None
    default_mailbox_quota_bytes: int | None
    # Sum of the mailboxes' allocated quotas (not real usage).
    allocated_quota_bytes: int
    # Real usage as Dovecot reports it (0 until a Dovecot writes quota2).
    bytes_used: int
    messages: int
    relayhost_id: int | None
    backupmx: bool
    gal: bool
    relay_all_recipients: bool
    relay_unknown_only: bool
    rate_limit: RateLimit | None
    created: datetime | None
    modified: datetime | None
    tags: tuple[str, ...] = ()

    @property
    def quota_mib(self) -> int | None:
        return mib(self.quota_bytes)

    @property
    def max_mailbox_quota_mib(self) -> int | None:
        return mib(self.max_mailbox_quota_bytes)

    @property
    def default_mailbox_quota_mib(self) -> int | None:
        return mib(self.default_mailbox_quota_bytes)

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> Domain:
        relayhost = _int(obj.get("relayhost"))
        return cls(
            name=str(obj["domain_name"]),
            unicode_name=str(obj.get("domain_h_name") or obj["domain_name"]),
            description=str(obj.get("description") or ""),
            active=_flag(obj.get("active_int", obj.get("active"))),
            max_mailboxes=_int(obj.get("max_num_mboxes_for_domain")),
            max_aliases=_int(obj.get("max_num_aliases_for_domain")),
            mailbox_count=_int(obj.get("mboxes_in_domain")),
            alias_count=_int(obj.get("aliases_in_domain")),
            quota_bytes=_quota(obj.get("max_quota_for_domain")),
            max_mailbox_quota_bytes=_quota(obj.get("max_quota_for_mbox")),
            default_mailbox_quota_bytes=_quota(obj.get("def_quota_for_mbox")),
            allocated_quota_bytes=_int(obj.get("quota_used_in_domain")),
            bytes_used=_int(obj.get("bytes_total")),
            messages=_int(obj.get("msgs_total")),
            relayhost_id=relayhost or None,
            backupmx=_flag(obj.get("backupmx_int", obj.get("backupmx"))),
            gal=_flag(obj.get("gal_int", obj.get("gal"))),
            relay_all_recipients=_flag(obj.get("relay_all_recipients_int")),
            relay_unknown_only=_flag(obj.get("relay_unknown_only_int")),
            rate_limit=RateLimit.from_api(obj.get("rl")),
            created=_time(obj.get("created")),
            modified=_time(obj.get("modified")),
            tags=tuple(str(t) for t in obj.get("tags") or () if isinstance(obj.get("tags"), list)),
        )


@dataclass(frozen=True)
class Mailbox:
    """A Mailcow mailbox (``get/mailbox/...``). Quota in bytes, None = unlimited."""

    address: str
    local_part: str
    domain: str
    name: str
    active: MailboxActive
    quota_bytes: int | None
    quota_used_bytes: int
    messages: int
    access: dict[Protocol, bool]
    force_pw_update: bool
    tls_enforce_in: bool
    tls_enforce_out: bool
    relayhost_id: int | None
    rate_limit: RateLimit | None
    # "mailbox" for its own limit, "domain" when inherited, None without one.
    rate_limit_scope: str | None
    authsource: str
    last_imap_login: datetime | None
    last_smtp_login: datetime | None
    last_pop3_login: datetime | None
    created: datetime | None
    modified: datetime | None
    quarantine_notification: str = "hourly"
    quarantine_category: str = "reject"

    @property
    def quota_mib(self) -> int | None:
        return mib(self.quota_bytes)

    @property
    def unlimited(self) -> bool:
        return self.quota_bytes is None

    @property
    def can_login(self) -> bool:
        return self.active is MailboxActive.ACTIVE

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> Mailbox:
        attributes = obj.get("attributes") if isinstance(obj.get("attributes"), dict) else {}
        active = _int(obj.get("active_int", obj.get("active")))
        rate_limit = RateLimit.from_api(obj.get("rl"))
        return cls(
            address=str(obj["username"]),
            local_part=str(obj.get("local_part") or str(obj["username"]).split("@")[0]),
            domain=str(obj.get("domain") or str(obj["username"]).split("@")[-1]),
            name=str(obj.get("name") or ""),
            active=MailboxActive(active) if active in (0, 1, 2) else MailboxActive.DISABLED,
            quota_bytes=_quota(obj.get("quota")),
            quota_used_bytes=_int(obj.get("quota_used")),
            messages=_int(obj.get("messages")),
            access={p: _flag(attributes.get(f"{p.value}_access", 1)) for p in Protocol},
            force_pw_update=_flag(attributes.get("force_pw_update")),
            tls_enforce_in=_flag(attributes.get("tls_enforce_in")),
            tls_enforce_out=_flag(attributes.get("tls_enforce_out")),
            relayhost_id=_int(attributes.get("relayhost")) or None,
            rate_limit=rate_limit,
            rate_limit_scope=(str(obj["rl_scope"]) if rate_limit and obj.get("rl_scope") else None),
            authsource=str(obj.get("authsource") or "mailcow"),
            quarantine_notification=str(attributes.get("quarantine_notification") or "hourly"),
            quarantine_category=str(attributes.get("quarantine_category") or "reject"),
            last_imap_login=_time(obj.get("last_imap_login")),
            last_smtp_login=_time(obj.get("last_smtp_login")),
            last_pop3_login=_time(obj.get("last_pop3_login")),
            created=_time(obj.get("created")),
            modified=_time(obj.get("modified")),
        )


@dataclass(frozen=True)
class Alias:
    """A Mailcow alias. ``address`` is ``@domain`` for a catch-all."""

    id: int
    address: str
    domain: str
    goto: tuple[str, ...]
    active: bool
    is_catch_all: bool
    internal: bool
    sogo_visible: bool
    sender_allowed: bool
    private_comment: str
    public_comment: str
    created: datetime | None
    modified: datetime | None

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> Alias:
        goto = str(obj.get("goto") or "")
        return cls(
            id=_int(obj.get("id")),
            address=str(obj["address"]),
            domain=str(obj.get("domain") or str(obj["address"]).split("@")[-1]),
            goto=tuple(t for t in goto.split(",") if t),
            active=_flag(obj.get("active_int", obj.get("active"))),
            is_catch_all=_flag(obj.get("is_catch_all")),
            internal=_flag(obj.get("internal")),
            sogo_visible=_flag(obj.get("sogo_visible_int", obj.get("sogo_visible"))),
            sender_allowed=_flag(obj.get("sender_allowed")),
            private_comment=str(obj.get("private_comment") or ""),
            public_comment=str(obj.get("public_comment") or ""),
            created=_time(obj.get("created")),
            modified=_time(obj.get("modified")),
        )


@dataclass(frozen=True)
class DkimKey:
    """A domain's DKIM key. Publish ``txt`` at ``dns_name``."""

    domain: str
    selector: str
    length: int
    public_key: str
    txt: str
    # PEM; only when the server shows private keys (Mailcow's SHOW_DKIM_PRIV_KEYS, off by default).
    private_key: str = ""

    @property
    def dns_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @classmethod
    def from_api(cls, domain: str, obj: dict[str, Any]) -> DkimKey:
        return cls(
            domain=domain,
            selector=str(obj.get("dkim_selector") or ""),
            length=_int(obj.get("length")),
            public_key=str(obj.get("pubkey") or ""),
            txt=str(obj.get("dkim_txt") or ""),
            private_key=_private_pem(obj.get("privkey")),
        )


def _private_pem(value: Any) -> str:
    """Mailcow sends the private key base64-encoded (an empty string when it hides it)."""
    import base64
    import binascii

    if not value:
        return ""
    try:
        pem = base64.b64decode(str(value), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return pem if "PRIVATE KEY-----" in pem else ""


@dataclass(frozen=True)
class Relayhost:
    """A sender-dependent transport (smarthost). The password is not kept."""

    id: int
    hostname: str
    username: str
    active: bool
    used_by_domains: tuple[str, ...]
    used_by_mailboxes: tuple[str, ...]

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> Relayhost:
        def split(value: Any) -> tuple[str, ...]:
            return tuple(v.strip() for v in str(value or "").split(",") if v.strip())

        return cls(
            id=_int(obj.get("id")),
            hostname=str(obj.get("hostname") or ""),
            username=str(obj.get("username") or ""),
            active=_flag(obj.get("active_int", obj.get("active"))),
            used_by_domains=split(obj.get("used_by_domains")),
            used_by_mailboxes=split(obj.get("used_by_mailboxes")),
        )


@dataclass(frozen=True)
class DomainAdmin:
    """A Mailcow domain administrator and the domains it manages."""

    username: str
    active: bool
    tfa_active: bool
    domains: tuple[str, ...]
    created: datetime | None

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> DomainAdmin:
        selected = obj.get("selected_domains")
        return cls(
            username=str(obj["username"]),
            active=_flag(obj.get("active_int", obj.get("active"))),
            tfa_active=_flag(obj.get("tfa_active_int", obj.get("tfa_active"))),
            domains=tuple(str(d) for d in selected) if isinstance(selected, list) else (),
            created=_time(obj.get("created")),
        )


@dataclass(frozen=True)
class SsoToken:
    """A one-time domain-admin login token (valid ~30 s): ``/?sso_token=<token>``."""

    username: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class AppPassword:
    """An app password of a mailbox. The hash Mailcow returns is not kept."""

    id: int
    name: str
    mailbox: str
    active: bool
    protocols: frozenset[Protocol]
    created: datetime | None

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> AppPassword:
        return cls(
            id=_int(obj.get("id")),
            name=str(obj.get("name") or ""),
            mailbox=str(obj.get("mailbox") or ""),
            active=_flag(obj.get("active_int", obj.get("active"))),
            protocols=frozenset(p for p in Protocol if _flag(obj.get(f"{p.value}_access"))),
            created=_time(obj.get("created")),
        )


@dataclass(frozen=True)
class SyncJob:
    """An imapsync job pulling mail from a remote IMAP server into ``mailbox``."""

    id: int
    mailbox: str
    host: str
    port: int
    user: str
    encryption: str
    interval_minutes: int
    active: bool
    is_running: bool
    last_run: datetime | None
    exit_status: str | None
    success: bool | None = None  # of the last run; None before the first
    log: str = ""  # imapsync's output of the last run (only when asked with the log)

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> SyncJob:
        return cls(
            id=_int(obj.get("id")),
            mailbox=str(obj.get("user2") or obj.get("username") or ""),
            host=str(obj.get("host1") or ""),
            port=_int(obj.get("port1")),
            user=str(obj.get("user1") or ""),
            encryption=str(obj.get("enc1") or ""),
            interval_minutes=_int(obj.get("mins_interval")),
            active=_flag(obj.get("active_int", obj.get("active"))),
            is_running=_flag(obj.get("is_running")),
            last_run=_time(obj.get("last_run")),
            exit_status=(str(obj["exit_status"]) if obj.get("exit_status") else None),
            success=None if obj.get("success") in (None, "") else _flag(obj.get("success")),
            log=str(obj.get("log") or ""),
        )


@dataclass(frozen=True)
class SieveFilter:
    """A Sieve script attached to a mailbox (``prefilter`` or ``postfilter``)."""

    id: int
    mailbox: str
    filter_type: str
    description: str
    script: str
    active: bool

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> SieveFilter:
        return cls(
            id=_int(obj.get("id")),
            mailbox=str(obj.get("username") or ""),
            filter_type=str(obj.get("filter_type") or ""),
            description=str(obj.get("script_desc") or ""),
            script=str(obj.get("script_data") or ""),
            active=_flag(obj.get("active_int", obj.get("active"))),
        )


@dataclass(frozen=True)
class QuarantineItem:
    """A message held by rspamd's quarantine."""

    id: int
    qid: str
    subject: str
    sender: str
    recipient: str
    score: float | None
    virus: bool
    action: str
    created: datetime | None

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> QuarantineItem:
        try:
            score = float(obj["score"]) if obj.get("score") not in (None, "") else None
        except (TypeError, ValueError):
            score = None
        return cls(
            id=_int(obj.get("id")),
            qid=str(obj.get("qid") or ""),
            subject=str(obj.get("subject") or ""),
            sender=str(obj.get("sender") or ""),
            recipient=str(obj.get("rcpt") or ""),
            score=score,
            virus=_int(obj.get("virus_flag")) > 0,
            action=str(obj.get("action") or ""),
            created=_time(obj.get("created")),
        )


@dataclass(frozen=True)
class Version:
    """``get/status/version``: e.g. ``2026-07a-5-g06424670f``; None if unknown."""

    version: str | None


@dataclass(frozen=True)
class WriteResult:
    """The entries of a successful add/edit/delete answer.

    ``warnings`` lists ``warning`` entries (partial success, e.g. "Could not
    move maildir to garbage collector" when Dovecot is absent).
    """

    entries: tuple[ResultEntry, ...]

    @property
    def warnings(self) -> tuple[ResultEntry, ...]:
        return tuple(e for e in self.entries if e.type == "warning")

    @property
    def msg_keys(self) -> tuple[str, ...]:
        return tuple(e.msg_key for e in self.entries)

    def find(self, msg_key: str) -> ResultEntry | None:
        """Return the first entry with this message key, or None."""
        return next((e for e in self.entries if e.msg_key == msg_key), None)


@dataclass(frozen=True)
class QuarantinedMessage:
    """One held message in full (``get/quarantine/<id>``): the summary plus its raw source."""

    item: QuarantineItem
    raw: str
    client_ip: str

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> QuarantinedMessage:
        return cls(
            item=QuarantineItem.from_api(obj),
            raw=str(obj.get("msg") or ""),
            client_ip=str(obj.get("ip") or ""),
        )
