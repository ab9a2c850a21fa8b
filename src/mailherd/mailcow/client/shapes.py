"""Helpers that turn Mailcow's GET shapes into predictable Python values.

Mailcow returns a collection as a JSON list, but an *empty* collection as
``{}``, and an unknown single object as ``{}`` too (reference §4).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .errors import MailcowProtocolError, ResultEntry, business_error_class


def _raise_if_error(data: Any, path: str) -> None:
    if isinstance(data, dict) and data.get("type") in ("error", "danger") and "msg" in data:
        entry = ResultEntry.from_api(data)
        cls = business_error_class(entry.msg_key)
        raise cls(
            f"Mailcow refused: {entry.msg_key}",
            method="GET",
            path=path,
            status=200,
            msg_key=entry.msg_key,
            args=entry.args,
            entries=(entry,),
        )


def as_list(data: Any, path: str) -> list[dict[str, Any]]:
    """Return the objects of a collection answer (``{}``/``[]``/null -> [])."""
    _raise_if_error(data, path)
    if data in ({}, [], None):
        return []
    if isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    raise MailcowProtocolError(
        f"expected a list from Mailcow, got {type(data).__name__}",
        method="GET",
        path=path,
        status=200,
    )


def as_object(data: Any, path: str) -> dict[str, Any] | None:
    """Return a single object answer, or None for Mailcow's ``{}`` (unknown)."""
    _raise_if_error(data, path)
    if data in ({}, [], None):
        return None
    if isinstance(data, dict):
        return data
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return data[0]
    raise MailcowProtocolError(
        f"expected an object from Mailcow, got {type(data).__name__}",
        method="GET",
        path=path,
        status=200,
    )


def segment(value: str | int) -> str:
    """Quote one path segment (ids, domains, addresses keep their ``@``)."""
    return quote(str(value), safe="@")


def flag(value: bool) -> int:
    """Mailcow flags are read as integers: 1 on, 0 off."""
    return 1 if value else 0
