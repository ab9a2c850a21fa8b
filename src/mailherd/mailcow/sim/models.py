"""Records of the simulator's state (the rows of Mailcow's MariaDB tables)
and helpers shared by the state modules."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from .php import now

MIB = 1024 * 1024
DEFAULT_HOSTNAME = "mail.sim.test"
DEFAULT_VERSION = "2026-07a-5-g06424670f"
# The "Default" domain template (GET get/domain/template/all on the lab).
DOMAIN_DEFAULTS = {
    "aliases": 400,
    "mailboxes": 10,
    "defquota": 3072,
    "maxquota": 10240,
    "quota": 10240,
    "active": 1,
    "backupmx": 0,
    "relay_all_recipients": 0,
    "relay_unknown_only": 0,
    "gal": 1,
    "dkim_selector": "dkim",
    "key_size": 2048,
}
ACCESS_FLAGS = ("sogo", "imap", "pop3", "smtp", "sieve", "eas", "dav")
PASSWORD_MIN_LENGTH = 6
RL_FRAMES = ("s", "m", "h", "d")
Entry = dict[str, Any]


class UncaughtPdoError(Exception):
    """An INSERT that MariaDB refuses (strict mode) and Mailcow does not catch: PHP prints
    nothing, so the answer is HTTP 200 with an empty body (reference §10)."""


def entry(type_: str, log: list[Any], msg: Any) -> Entry:
    return {"type": type_, "log": log, "msg": msg}


def masked(attr: dict[str, Any]) -> dict[str, Any]:
    """Mailcow masks password fields as "*" in the log of mailbox calls."""
    return {k: ("*" if "pass" in k else v) for k, v in attr.items()}


def hash_password(password: str) -> str:
    """Store ``{SCHEME}...`` values as-is (pre-hashed import), else SSHA256.

    Real Mailcow uses BLF-CRYPT (bcrypt, ~100 ms); a salted SHA-256 keeps
    the simulator fast while still never storing the clear text.
    """
    if password.startswith("{") and "}" in password:
        return password
    salt = os.urandom(8)
    digest = hashlib.sha256(password.encode() + salt).digest()
    return "{SSHA256}" + base64.b64encode(digest + salt).decode("ascii")


@dataclass
class SimDomain:
    name: str
    description: str
    aliases: int
    mailboxes: int
    defquota: int  # MiB
    maxquota: int  # MiB
    quota: int  # MiB
    active: int
    backupmx: int
    relay_all_recipients: int
    relay_unknown_only: int
    gal: int
    relayhost: int = 0
    tags: list[str] = field(default_factory=list)
    created: str = field(default_factory=now)
    modified: str | None = None


@dataclass
class SimMailbox:
    username: str
    local_part: str
    domain: str
    name: str
    quota: int  # bytes, 0 = unlimited
    password: str
    active: int
    attributes: dict[str, str]
    authsource: str = "mailcow"
    tags: list[str] = field(default_factory=list)
    quota_used: int = 0
    messages: int = 0
    created: str = field(default_factory=now)
    modified: str | None = None


@dataclass
class SimAlias:
    id: int
    address: str
    goto: str
    domain: str
    active: int
    sogo_visible: int = 0
    internal: int = 0
    sender_allowed: int = 0
    private_comment: str = ""
    public_comment: str = ""
    # The hidden row every mailbox owns (address = goto = mailbox).
    is_self: bool = False
    created: str = field(default_factory=now)
    modified: str | None = None


@dataclass
class SimDkim:
    selector: str
    public_b64: str
    bits: int
