"""Mailbox CSV import and export: one parser and one import path for the CLI and the portal.

Rows go through `mailbox_create_many` in chunks (one organization lock per chunk), so an
import follows exactly the rules of a single mailbox created in the portal or the API.
"""

import csv
import io
from dataclasses import dataclass

from mailherd.core.errors import ValidationFailed
from mailherd.hosting.models import Mailbox
from mailherd.hosting.services.mailboxes import MailboxRequest, mailbox_create_many

COLUMNS = ("address", "name", "quota_mb", "password", "password_hash")
EXPORT_COLUMNS = ("address", "name", "quota_mb", "status", "used_bytes", "messages", "created_at")
CHUNK = 100  # rows per organization lock: progress moves, others' writes are not held up long
MAX_ROWS = 10_000


@dataclass
class ImportRow:
    line: int  # in the file (the header is line 1)
    address: str
    result: str = ""  # "created" or "refused"
    message: str = ""
    password: str = ""  # generated ones only (given passwords are never echoed)

    def as_dict(self) -> dict:
        return {
            "line": self.line,
            "address": self.address,
            "result": self.result,
            "message": self.message,
            "password": self.password,
        }


def mailbox_csv_parse(text: str) -> list[dict]:
    """The rows of a mailbox CSV as dicts with lower-case keys; refuse a file without `address`."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or "address" not in [f.strip().lower() for f in reader.fieldnames]:
        raise ValidationFailed(
            f"The CSV needs a header row with at least 'address' (columns: {', '.join(COLUMNS)}).",
            field="file",
        )
    rows = [
        {(key or "").strip().lower(): (value or "").strip() for key, value in row.items() if key}
        for row in reader
    ]
    if not rows:
        raise ValidationFailed("The CSV has a header but no rows.", field="file")
    if len(rows) > MAX_ROWS:
        raise ValidationFailed(f"Import at most {MAX_ROWS:,} mailboxes at once.", field="file")
    return rows


def mailbox_import_chunk(
    *, actor, organization, rows: list[dict], first_line: int
) -> list[ImportRow]:
    """Create the mailboxes of `rows` (at most CHUNK); each row is created or refused on its own."""
    requests = [
        MailboxRequest(
            address=row.get("address", ""),
            password=row.get("password") or None,
            password_hash=row.get("password_hash") or None,
            quota_mb=row.get("quota_mb") or None,
            name=row.get("name", ""),
        )
        for row in rows
    ]
    outcomes = mailbox_create_many(actor=actor, organization=organization, requests=requests)
    results = []
    for offset, outcome in enumerate(outcomes):
        row = ImportRow(line=first_line + offset, address=outcome.request.address)
        if outcome.error is not None:
            row.result, row.message = "refused", outcome.error.message
        else:
            row.result, row.address, row.password = (
                "created",
                outcome.mailbox.address,
                outcome.password,
            )
        results.append(row)
    return results


def mailbox_import(*, actor, organization, rows: list[dict], on_progress=None) -> list[ImportRow]:
    """Import every row, chunk by chunk; `on_progress(done, total)` after each chunk."""
    results: list[ImportRow] = []
    for start in range(0, len(rows), CHUNK):
        results += mailbox_import_chunk(
            actor=actor,
            organization=organization,
            rows=rows[start : start + CHUNK],
            first_line=start + 2,
        )
        if on_progress is not None:
            on_progress(len(results), len(rows))
    return results


def mailbox_export_rows(*, organization):
    """Yield the organization's mailboxes as CSV lines (header first), for a download."""
    from mailherd.hosting.selectors import mailbox_status

    class _Echo:
        def write(self, value):
            return value

    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    mailboxes = Mailbox.objects.filter(organization=organization).order_by("address")
    for mailbox in mailboxes.iterator(chunk_size=1000):
        yield writer.writerow(
            [
                mailbox.address,
                _cell(mailbox.name),
                mailbox.quota_mb,
                mailbox_status(mailbox, organization=organization),
                mailbox.quota_used_bytes,
                mailbox.messages,
                mailbox.created_at.isoformat(timespec="seconds"),
            ]
        )


def _cell(value: str) -> str:
    """A customer-typed text that a spreadsheet must not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
