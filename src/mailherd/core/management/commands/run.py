import os
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from mailherd.core.supervisor import PortTaken, ensure_port_free, run_process_group


class Command(BaseCommand):
    help = (
        "Migrate, then serve the web app, a worker and the scheduler together (Ctrl-C stops all)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument(
            "--mcp-port", type=int, default=None, help="MCP service port (default: --port + 1)"
        )

    def choose_ports(self, options) -> None:
        """Refuse, naming the port, when the web or MCP port is taken (`demo` picks free ones)."""
        try:
            ensure_port_free(options["host"], options["port"], "the web server")
            ensure_port_free("127.0.0.1", self._mcp_port(options), "the MCP service (--mcp-port)")
        except PortTaken as exc:
            raise CommandError(str(exc))

    @staticmethod
    def _mcp_port(options) -> int:
        return options.get("mcp_port") or options["port"] + 1

    def prepare(self, options) -> dict:
        """Hook for `demo`: return extra processes to supervise."""
        return {}

    def _mcp_service(self, options) -> dict:
        """The MCP service (one process: its sessions live in memory); /mcp is forwarded to it."""
        port = self._mcp_port(options)
        os.environ.setdefault("MAILHERD_MCP_URL", f"http://127.0.0.1:{port}")
        return {
            "mcp": [sys.executable, "-m", "mailherd", "mcp", "--host", "127.0.0.1", "--port", str(port)]
        }

    def handle(self, *args, **options):
        self.choose_ports(options)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write("mailherd: database and static files ready")
        extra = {**self._mcp_service(options), **self.prepare(options)}
        code = run_process_group(
            host=options["host"],
            port=options["port"],
            web_workers=options["web_workers"],
            extra=extra,
        )
        # Everything is stopped: leave now. Tearing down this interpreter (every app loaded for
        # migrate) took seconds more, past the 5 s an operator's SIGTERM allows.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
