"""Client-side validation: bad input never reaches Mailcow.

Each function returns the normalised value Mailcow should receive, or raises
MailcowValidationError (nothing is sent). Mailcow splits several fields on
space, comma, semicolon and newline (reference §3, §5.3): a value containing
one of those would be silently cut in two and half-applied, so every single
value is checked for them here.

>>> normalize_domain("Bücher.Example")
'xn--bcher-kva.example'
>>> normalize_alias_address("@Acme.Test")
'@acme.test'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import idna

from .constants import (
    API_KEY_ALPHABET,
    DKIM_KEY_SIZES,
    MAX_COUNT_LIMIT,
    MAX_QUOTA_MIB,
    RATE_LIMIT_FRAMES,
)
from .errors import MailcowValidationError

# Characters Mailcow treats as list separators in multi-value fields.
_SEPARATORS = re.compile(r"[\s,;]")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# RFC 5322 "atext" dot-atoms, lower-cased (Mailcow lower-cases local parts).
_LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+=?^_`{|}~-]+)*$")
_SELECTOR = re.compile(r"^[A-Za-z0-9._-]{1,63}$")
_USERNAME = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _fail(field: str, message: str) -> MailcowValidationError:
    return MailcowValidationError(message, field=field)


def normalize_domain(value: Any, *, field: str = "domain") -> str:
    """Return the ASCII (punycode), lower-case form of a domain name.

    Rules: at least two labels, each 1-63 letters/digits/hyphens not starting
    or ending with a hyphen, at most 253 characters, a non-numeric TLD (no IP
    addresses). IDN names are converted with IDNA 2008 + UTS #46, as Mailcow
    does with ``idn_to_ascii``. One trailing dot is accepted and dropped.
    """
    if not isinstance(value, str):
        raise _fail(field, f"{field} must be a string")
    name = value.strip()
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise _fail(field, f"{field} is empty")
    if _SEPARATORS.search(name) or any(c in name for c in "@/\\:"):
        raise _fail(field, f"{field} {value!r} contains a forbidden character")
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as exc:
        raise _fail(field, f"{field} {value!r} is not a valid domain name: {exc}") from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2:
        raise _fail(field, f"{field} {value!r} is not a fully qualified domain name")
    if not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise _fail(field, f"{field} {value!r} is not a valid domain name")
    return ascii_name


def normalize_local_part(value: Any, *, field: str = "local_part") -> str:
    """Return a lower-cased, valid local part (1-64 chars, dot-atom)."""
    if not isinstance(value, str):
        raise _fail(field, f"{field} must be a string")
    local = value.strip().lower()
    if not local:
        raise _fail(field, f"{field} is empty")
    if len(local) > 64 or not _LOCAL_PART.match(local):
        raise _fail(field, f"{field} {value!r} is not a valid local part")
    return local


def normalize_address(value: Any, *, field: str = "address") -> str:
    """Return ``local@domain`` with a normalised local part and domain."""
    if not isinstance(value, str):
        raise _fail(field, f"{field} must be a string")
    address = value.strip()
    if address.count("@") != 1:
        raise _fail(field, f"{field} {value!r} is not an email address")
    local, domain = address.split("@")
    return f"{normalize_local_part(local, field=field)}@{normalize_domain(domain, field=field)}"


def split_address(value: Any, *, field: str = "address") -> tuple[str, str]:
    """Return ``(local_part, domain)`` of a normalised address."""
    local, domain = normalize_address(value, field=field).split("@")
    return local, domain


def normalize_alias_address(value: Any, *, field: str = "address") -> str:
    """Return an alias address: ``local@domain``, or ``@domain`` for a catch-all."""
    if isinstance(value, str) and value.strip().startswith("@"):
        return "@" + normalize_domain(value.strip()[1:], field=field)
    return normalize_address(value, field=field)


def normalize_goto(values: Any, *, field: str = "goto") -> list[str]:
    """Return a de-duplicated, non-empty list of target addresses.

    A single string is one address, never a separated list: pass several
    targets as a list.
    """
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, Iterable):
        raise _fail(field, f"{field} must be a list of addresses")
    targets: list[str] = []
    for item in values:
        address = normalize_address(item, field=field)
        if address not in targets:
            targets.append(address)
    if not targets:
        raise _fail(field, f"{field} needs at least one target address")
    return targets


def check_int(value: Any, *, field: str, minimum: int = 0, maximum: int = MAX_COUNT_LIMIT) -> int:
    """Return ``value`` if it is an int (not a bool) within [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(field, f"{field} must be an integer, got {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise _fail(field, f"{field}={value} is outside [{minimum}, {maximum}]")
    return value


def check_quota_mib(value: Any, *, field: str = "quota_mib", minimum: int = 0) -> int:
    """Return a quota in MiB (0 = unlimited where Mailcow allows it)."""
    return check_int(value, field=field, minimum=minimum, maximum=MAX_QUOTA_MIB)


def check_rate_limit(value: Any, frame: Any) -> tuple[int, str]:
    """Return ``(value, frame)``: value >= 0 (0 clears), frame one of s/m/h/d."""
    count = check_int(value, field="rate_limit_value", minimum=0)
    if frame not in RATE_LIMIT_FRAMES:
        raise _fail("rate_limit_frame", f"frame must be one of {RATE_LIMIT_FRAMES}, got {frame!r}")
    return count, frame


def check_dkim(selector: Any, key_size: Any) -> tuple[str, int]:
    """Return ``(selector, key_size)``: selector of ``[A-Za-z0-9._-]``, known size."""
    if not isinstance(selector, str) or not _SELECTOR.match(selector):
        raise _fail(
            "dkim_selector", f"DKIM selector {selector!r} must match [A-Za-z0-9._-]{{1,63}}"
        )
    if key_size not in DKIM_KEY_SIZES or isinstance(key_size, bool):
        raise _fail("dkim_key_size", f"DKIM key size must be one of {DKIM_KEY_SIZES}")
    return selector, key_size


def check_password(value: Any, *, field: str = "password") -> str:
    """Return a non-empty password without control characters.

    The length/complexity policy is the server's (``password_complexity``).
    """
    if not isinstance(value, str) or not value:
        raise _fail(field, f"{field} must be a non-empty string")
    if _CONTROL.search(value) or len(value) > 1024:
        raise _fail(field, f"{field} contains control characters or is too long")
    return value


def check_text(value: Any, *, field: str, max_length: int = 255) -> str:
    """Return a single-line text (names, descriptions, comments)."""
    if not isinstance(value, str):
        raise _fail(field, f"{field} must be a string")
    if _CONTROL.search(value) or len(value) > max_length:
        raise _fail(field, f"{field} contains control characters or exceeds {max_length} chars")
    return value


def check_username(value: Any, *, field: str = "username") -> str:
    """Return a domain-admin user name (letters, digits, ``._-``)."""
    if not isinstance(value, str) or not _USERNAME.match(value):
        raise _fail(field, f"{field} {value!r} may only contain letters, digits and ._-")
    return value


def check_hostname_port(value: Any, *, field: str = "hostname") -> str:
    """Return a relay/IMAP host spec such as ``[smtp.example]:587`` or ``host``."""
    if not isinstance(value, str) or not value.strip():
        raise _fail(field, f"{field} is empty")
    if _SEPARATORS.search(value.strip()) or _CONTROL.search(value):
        raise _fail(field, f"{field} {value!r} contains spaces or separators")
    return value.strip()


def check_id(value: Any, *, field: str = "id") -> int:
    """Return a positive integer id."""
    return check_int(value, field=field, minimum=1)


def check_api_key(value: Any) -> str:
    """Return the key if it only uses ``[A-Za-z0-9-]`` (what Mailcow keeps).

    Mailcow silently strips other characters, so a key with them would
    authenticate as a *different* key; refuse it instead.
    """
    if not isinstance(value, str) or not value or not set(value) <= API_KEY_ALPHABET:
        # The value itself is never echoed: it is a secret.
        raise MailcowValidationError(
            "API key must be a non-empty string of letters, digits and '-'", field="api_key"
        )
    return value
