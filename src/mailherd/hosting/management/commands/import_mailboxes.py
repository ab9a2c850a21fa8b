"""Bulk-create mailboxes from a CSV file, through the same service (and rules) as the portal."""

import csv
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.hosting.services.mailboxes import MailboxRequest, mailbox_create_many
from mailherd.tenancy.models import Organization

COLUMNS = ("address", "name", "quota_mb", "password", "password_hash")
# Rows go through the bulk service in batches: passwords hashed in parallel, and the
# organization lock is held for one batch at a time, not for the whole file.
BATCH = 100


class _DryRun(Exception):
    """Raised to roll back everything a dry run did."""


class _no_transaction:
    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


class Command(BaseCommand):
    help = (
        "Create mailboxes from a CSV with a header row: address (required), name, quota_mb, password "
        "(empty: generated) or password_hash (the user's existing {SCHEME} hash, e.g. {SHA512-CRYPT}$6$...). "
        "Rows that break a rule are refused and reported; the others are created."
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
            # A dry run rolls everything back at the end (so later rows see the earlier ones' usage).
            with transaction.atomic(durable=False) if options["dry_run"] else _no_transaction():
                for start in range(0, len(rows), BATCH):
                    results.extend(self._import_batch(organization, start, rows[start : start + BATCH]))
                    self._progress(len(results), len(rows))
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

    def _import_batch(self, organization, start: int, rows: list[dict]) -> list[dict]:
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
        outcomes = mailbox_create_many(actor=Actor.system(), organization=organization, requests=requests)
        results = []
        for number, outcome in enumerate(outcomes, start=start + 2):  # the header is line 1
            address = outcome.request.address
            if outcome.error is not None:
                results.append({"line": number, "address": address, "result": "refused",
                                "message": outcome.error.message, "password": ""})
            else:
                results.append({"line": number, "address": outcome.mailbox.address, "result": "created",
                                "message": "", "password": outcome.password})
        return results

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
