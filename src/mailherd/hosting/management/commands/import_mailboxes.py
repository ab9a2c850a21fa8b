"""Bulk-create mailboxes from a CSV file, through the same import service as the portal."""

import csv
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.core.errors import MailherdError
from mailherd.hosting.services.imports import mailbox_csv_parse, mailbox_import
from mailherd.tenancy.models import Organization


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
        parser.add_argument(
            "--dry-run", action="store_true", help="Check every row, create nothing"
        )
        parser.add_argument(
            "--report",
            help="Write a CSV report (address, result, message, generated password) here",
        )

    def handle(self, *args, **options):
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['org']!r}")
        try:
            rows = mailbox_csv_parse(self._read(options["file"]))
        except MailherdError as exc:
            raise CommandError(exc.message)
        results = []
        try:
            # A dry run rolls everything back at the end (so later rows see the earlier ones'
            # usage); a real one commits chunk by chunk (the organization lock is held per chunk).
            with transaction.atomic(durable=False) if options["dry_run"] else _no_transaction():
                results = mailbox_import(
                    actor=Actor.system(),
                    organization=organization,
                    rows=rows,
                    on_progress=self._progress,
                )
                if options["dry_run"]:
                    raise _DryRun
        except _DryRun:
            pass
        self.stderr.write("")
        created = [r for r in results if r.result == "created"]
        refused = [r for r in results if r.result == "refused"]
        verb = "would be created" if options["dry_run"] else "created"
        self.stdout.write(
            f"{len(created)} mailboxes {verb}, {len(refused)} refused (of {len(results)} rows)."
        )
        for row in refused:
            self.stdout.write(f"  line {row.line}: {row.address or '(empty)'}: {row.message}")
        if options["report"]:
            self._write_report(options["report"], results, dry_run=options["dry_run"])
        elif created and not options["dry_run"] and any(r.password for r in created):
            self.stdout.write("Generated passwords were not saved: use --report FILE to keep them.")

    def _read(self, path: str) -> str:
        if path == "-":
            return sys.stdin.read()
        try:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                return handle.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}")

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        self.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending="")
        self.stderr.flush()

    def _write_report(self, path: str, results, *, dry_run: bool) -> None:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(
                handle, fieldnames=["line", "address", "result", "message", "password"]
            )
            writer.writeheader()
            for row in results:
                writer.writerow({**row.as_dict(), "password": "" if dry_run else row.password})
        self.stdout.write(f"Report written to {path}.")
