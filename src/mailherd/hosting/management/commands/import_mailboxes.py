"""Bulk-create mailboxes from a CSV file, through the same service (and rules) as the portal."""

import csv
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.core.errors import MailherdError
from mailherd.hosting.services import mailbox_create
from mailherd.tenancy.models import Organization

COLUMNS = ("address", "name", "quota_mb", "password")


class _DryRun(Exception):
    """Raised to roll back everything a dry run did."""


class Command(BaseCommand):
    help = (
        "Create mailboxes from a CSV with a header row: address (required), name, quota_mb, password "
        "(empty: generated). Rows that break a rule are refused and reported; the others are created."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization slug")
        parser.add_argument("file", help="CSV file, or - for standard input")
        parser.add_argument("--dry-run", action="store_true", help="Check every row, create nothing")
        parser.add_argument("--report", help="Write a CSV report (address, result, message, generated password) here")

    def handle(self, *args, **options):
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['org']!r}")
        rows = self._read(options["file"])
        results = []
        try:
            with transaction.atomic():
                for number, row in enumerate(rows, start=1):
                    results.append(self._import_row(organization, number, row))
                    self._progress(number, len(rows))
                if options["dry_run"]:
                    raise _DryRun
        except _DryRun:
            pass
        self.stderr.write("")
        created = [r for r in results if r["result"] == "created"]
        refused = [r for r in results if r["result"] == "refused"]
        verb = "would be created" if options["dry_run"] else "created"
        self.stdout.write(f"{len(created)} mailboxes {verb}, {len(refused)} refused (of {len(results)} rows).")
        for row in refused:
            self.stdout.write(f"  line {row['line']}: {row['address'] or '(empty)'}: {row['message']}")
        if options["report"]:
            self._write_report(options["report"], results, dry_run=options["dry_run"])
        elif created and not options["dry_run"] and any(r["password"] for r in created):
            self.stdout.write("Generated passwords were not saved: use --report FILE to keep them.")

    def _read(self, path: str) -> list[dict]:
        try:
            handle = sys.stdin if path == "-" else open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}")
        with handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "address" not in [f.strip().lower() for f in reader.fieldnames]:
                raise CommandError(f"The CSV needs a header row with at least 'address' (columns: {', '.join(COLUMNS)}).")
            return [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader]

    def _import_row(self, organization, number: int, row: dict) -> dict:
        line = number + 1  # the header is line 1
        address = row.get("address", "")
        try:
            with transaction.atomic():
                _mailbox, password = mailbox_create(
                    actor=Actor.system(),
                    organization=organization,
                    address=address,
                    password=row.get("password") or None,
                    quota_mb=row.get("quota_mb") or None,
                    name=row.get("name", ""),
                )
        except MailherdError as exc:
            return {"line": line, "address": address, "result": "refused", "message": exc.message, "password": ""}
        generated = "" if row.get("password") else password
        return {"line": line, "address": address.lower(), "result": "created", "message": "", "password": generated}

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        self.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending="")
        self.stderr.flush()

    def _write_report(self, path: str, results: list[dict], *, dry_run: bool) -> None:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["line", "address", "result", "message", "password"])
            writer.writeheader()
            for row in results:
                writer.writerow({**row, "password": "" if dry_run else row["password"]})
        self.stdout.write(f"Report written to {path}.")
