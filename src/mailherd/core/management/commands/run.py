from django.core.management import call_command
from django.core.management.base import BaseCommand

from mailherd.core.supervisor import run_process_group


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

    def prepare(self, options) -> dict:
        """Hook for `demo`: return extra processes to supervise."""
        return {}

    def _mcp_service(self, options) -> dict:
        """The MCP service (one process: its sessions live in memory); /mcp is forwarded to it."""
        import os
        import sys

        port = options.get("mcp_port") or options["port"] + 1
        os.environ.setdefault("MAILHERD_MCP_URL", f"http://127.0.0.1:{port}")
        return {
            "mcp": [sys.executable, "-m", "mailherd", "mcp", "--host", "127.0.0.1", "--port", str(port)]
        }

    def handle(self, *args, **options):
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
        raise SystemExit(code)
