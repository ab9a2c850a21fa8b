"""PHP semantics the simulator must reproduce to answer like Mailcow does.

Mailcow's PHP reads request values with ``intval``/``empty``/``isset`` and
validates with ``filter_var(..., FILTER_VALIDATE_EMAIL)`` and its own
``is_valid_domain_name``. Small differences here would make the simulator
accept what Mailcow refuses, so each helper documents the PHP it mirrors.
"""

from __future__ import annotations

import re
import time
from typing import Any

import idna

_LEADING_INT = re.compile(r"^\s*([+-]?\d+)")
# Mailcow's is_valid_domain_name(): LDH labels, 1-253 chars, labels <= 63.
_DOMAIN = re.compile(r"^([a-z\d](-*[a-z\d])*)(\.([a-z\d](-*[a-z\d])*))*$", re.IGNORECASE)
_LABELS = re.compile(r"^[^.]{1,63}(\.[^.]{1,63})*$")
# Approximation of PHP's FILTER_VALIDATE_EMAIL (dot-atom local part, a
# domain with at least one dot and an alphabetic or punycode TLD).
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z][A-Za-z0-9]*|xn--[A-Za-z0-9-]+)$"
)
# Mailcow splits multi-value fields with preg_split("/( |,|;|\n)/").
_SPLIT = re.compile(r"[ ,;\n]")


def intval(value: Any) -> int:
    """PHP intval(): leading integer of a string, 0 when there is none."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        match = _LEADING_INT.match(value)
        return int(match.group(1)) if match else 0
    return 0


def empty(value: Any) -> bool:
    """PHP empty(): None, "", "0", 0, 0.0, False, [] and {} are empty."""
    return value in (None, "", "0", 0, False) or value == [] or value == {}


def is_numeric(value: Any) -> bool:
    """PHP is_numeric() for the values JSON can carry."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            float(value.strip())
        except ValueError:
            return False
        return bool(value.strip())
    return False


def idn_to_ascii(value: Any) -> str:
    """idn_to_ascii(strtolower(trim(x)), UTS46); the input when it fails."""
    text = str(value if value is not None else "").strip().lower()
    if not text:
        return ""
    try:
        return idna.encode(text, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return text


def idn_to_utf8(value: str) -> str:
    """The human form Mailcow shows as ``domain_h_name``."""
    try:
        return idna.decode(value)
    except (idna.IDNAError, UnicodeError):
        return value


def is_valid_domain_name(value: Any) -> bool:
    """Mailcow's is_valid_domain_name() (single labels are accepted)."""
    if empty(value) or not isinstance(value, str):
        return False
    name = idn_to_ascii(value)
    return bool(_DOMAIN.match(name) and 1 <= len(name) <= 253 and _LABELS.match(name))


def is_valid_email(value: Any) -> bool:
    """filter_var($value, FILTER_VALIDATE_EMAIL), approximately."""
    return (
        isinstance(value, str)
        and len(value) <= 320
        and bool(_EMAIL.match(value))
        and (len(value.split("@")[0]) <= 64)
    )


def split_list(value: Any) -> list[str]:
    """Mailcow's multi-value split, trimmed (keeps empty pieces, as PHP does)."""
    if isinstance(value, list):
        return [str(v).strip() for v in value]
    return [piece.strip() for piece in _SPLIT.split(str(value if value is not None else ""))]


def strstr_parts(address: str) -> tuple[str, str]:
    """Return (local, domain) the way Mailcow derives them with strstr().

    Without an ``@`` both parts are empty (strstr returns false), which is
    how ``goto:"not-an-email"`` becomes the mangled ``"@"`` of §5.3.
    """
    if "@" not in address:
        return "", ""
    local, _, domain = address.partition("@")
    return local, domain


def now() -> str:
    """MariaDB DATETIME text, e.g. ``2026-11-23 06:20:07``."""
    return time.strftime("%Y-%m-%d %H:%M:%S")
