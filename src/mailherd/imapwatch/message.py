"""A new message as handlers see it: the parsed MIME message plus where it was found."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from functools import cached_property
from typing import Any


def parse_message(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


def message_key(parsed: EmailMessage, raw: bytes) -> str:
    """The Message-ID; without one, a digest of the headers (same message, same key)."""
    message_id = str(parsed.get("Message-ID") or "").strip()
    if message_id:
        return message_id[:255]
    header_end = raw.find(b"\r\n\r\n")
    head = raw[: header_end if header_end >= 0 else len(raw)]
    lines = [
        line
        for line in head.split(b"\r\n")
        if not line.lower().startswith((b"received:", b"delivered-to:", b"return-path:"))
    ]
    return "sha256:" + hashlib.sha256(b"\n".join(lines)).hexdigest()


@dataclass
class Attachment:
    filename: str
    content_type: str
    size: int
    content: bytes = field(repr=False)


@dataclass
class IncomingMessage:
    mailbox: Any  # hosting.Mailbox
    folder: str
    uid: int
    uidvalidity: int
    raw: bytes = field(repr=False)
    internal_date: datetime | None = None

    @cached_property
    def parsed(self) -> EmailMessage:
        return parse_message(self.raw)

    @cached_property
    def key(self) -> str:
        return message_key(self.parsed, self.raw)

    @property
    def size(self) -> int:
        return len(self.raw)

    def header(self, name: str) -> str:
        try:
            values = self.parsed.get_all(name) or []
        except Exception:  # noqa: BLE001 - a malformed header reads as its raw text
            values = []
        return ", ".join(str(v) for v in values)

    @property
    def subject(self) -> str:
        return self.header("Subject")

    @property
    def message_id(self) -> str:
        return self.header("Message-ID")

    def _addresses(self, *names: str) -> list[str]:
        values = []
        for name in names:
            values.extend(str(v) for v in (self.parsed.get_all(name) or []))
        return [addr.lower() for _, addr in getaddresses(values) if addr]

    @property
    def sender(self) -> str:
        found = self._addresses("From")
        return found[0] if found else ""

    @property
    def sender_display(self) -> str:
        return self.header("From")

    @property
    def recipients(self) -> list[str]:
        return self._addresses("To", "Cc")

    @property
    def envelope_recipients(self) -> list[str]:
        """Where the server delivered it (an alias's target shows here, not in To)."""
        return self._addresses("Delivered-To", "X-Original-To", "Envelope-To")

    @property
    def date(self) -> datetime | None:
        value = self.header("Date")
        try:
            return parsedate_to_datetime(value) if value else self.internal_date
        except (TypeError, ValueError):
            return self.internal_date

    @cached_property
    def text(self) -> str:
        part = self.parsed.get_body(preferencelist=("plain",))
        if part is not None:
            return _content(part)
        html = self.html
        if html:
            import nh3

            return nh3.clean(html, tags=set()).strip()
        return ""

    @cached_property
    def html(self) -> str:
        part = self.parsed.get_body(preferencelist=("html",))
        return _content(part) if part is not None else ""

    @cached_property
    def attachments(self) -> list[Attachment]:
        found = []
        for part in self.parsed.iter_attachments():
            payload = part.get_payload(decode=True) or b""
            found.append(
                Attachment(
                    filename=part.get_filename() or "attachment",
                    content_type=part.get_content_type(),
                    size=len(payload),
                    content=payload,
                )
            )
        return found


def _content(part) -> str:
    try:
        return str(part.get_content())
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")
