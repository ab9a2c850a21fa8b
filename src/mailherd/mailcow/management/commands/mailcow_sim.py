"""``mailherd mailcow_sim``: the Mailcow API simulator as a standalone server."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from mailherd.mailcow.sim.server import DEFAULT_API_KEY, DEFAULT_HOST, DEFAULT_PORT, serve


class Command(BaseCommand):
    help = "Serve the Mailcow API simulator (binds 127.0.0.1 by default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=DEFAULT_HOST)
        parser.add_argument("--port", type=int, default=DEFAULT_PORT)
        parser.add_argument(
            "--api-key", action="append", dest="api_keys", help="read-write key (repeatable)"
        )
        parser.add_argument(
            "--read-only-key",
            action="append",
            dest="read_only_keys",
            help="read-only key (repeatable)",
        )
        parser.add_argument(
            "--state-file",
            default=None,
            help="keep the state in this file, so a restart finds it again (default: in memory)",
        )

    def handle(self, *args: object, **options: object) -> None:
        api_keys = options["api_keys"] or [DEFAULT_API_KEY]
        read_only = options["read_only_keys"] or []
        host, port = options["host"], options["port"]
        self.stdout.write(
            f"Mailcow simulator on http://{host}:{port}/api/v1/ ({len(api_keys)} rw key(s))"
        )
        if not options["api_keys"]:
            self.stdout.write(f"  default API key: {DEFAULT_API_KEY}")
        serve(str(host), int(port), api_keys, read_only, state_file=options["state_file"])  # type: ignore[arg-type]
