from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "mailherd.rules"
    label = "rules"
    verbose_name = "Mail rules"

    def ready(self) -> None:
        from mailherd.hosting.provisioning import register_outbox_handler
        from mailherd.imapwatch.registry import register
        from mailherd.rules import sieve
        from mailherd.rules.watcher import RulesHandler

        register_outbox_handler(sieve.OP_PUSH, sieve.apply_push)
        register(RulesHandler())
        import mailherd.rules.mcp_tools  # noqa: F401  (registers the MCP tools)
