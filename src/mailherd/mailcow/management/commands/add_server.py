from django.core.management.base import BaseCommand, CommandError

from mailherd.core.actors import Actor
from mailherd.core.errors import MailherdError
from mailherd.mailcow.services import mail_server_register


class Command(BaseCommand):
    help = "Register a Mailcow server after checking that it answers with the API key."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--url", required=True, help="e.g. https://mail.example.net")
        parser.add_argument("--api-key", required=True)
        parser.add_argument(
            "--hostname",
            default="",
            help="Public mail host name, the MX target (default: the URL's host, when it is a"
            " name; required when the URL names an address)",
        )
        parser.add_argument(
            "--capacity", type=int, default=5000, help="Mailboxes this server may hold"
        )

    def handle(self, *args, **options):
        try:
            server = mail_server_register(
                actor=Actor.system(),
                name=options["name"],
                url=options["url"],
                api_key=options["api_key"],
                hostname=options["hostname"],
                capacity_mailboxes=options["capacity"],
            )
        except MailherdError as exc:
            option = {"hostname": "--hostname", "api_key": "--api-key", "api_url": "--url"}.get(
                exc.fields.get("field", "")
            )
            raise CommandError(f"{exc.message} ({option})" if option else exc.message) from None
        self.stdout.write(f"registered {server.name} (Mailcow {server.version})")
