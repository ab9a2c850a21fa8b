from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the MCP server (Streamable HTTP, official MCP SDK) on its own port; one process."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)

    def handle(self, *args, **options):
        import uvicorn

        from mailherd.mcp.server import build_app

        self.stdout.write(
            f"mailherd mcp: serving on http://{options['host']}:{options['port']}/mcp"
        )
        uvicorn.run(
            build_app(),
            host=options["host"],
            port=options["port"],
            log_level="warning",
            lifespan="on",
        )
