from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mailherd.core.actors import Actor
from mailherd.core.errors import MailherdError
from mailherd.mailcow.relays import relay_add


class Command(BaseCommand):
    help = "Define a smarthost (relay) that outbound mail can leave through."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="e.g. resend")
        parser.add_argument("--host", required=True, help="SMTP host, e.g. smtp.resend.com")
        parser.add_argument("--port", type=int, default=587)
        parser.add_argument("--user", default="", help="SMTP user name")
        parser.add_argument(
            "--password-file", help="File holding the SMTP password (kept encrypted; - reads stdin)"
        )
        parser.add_argument("--spf-include", default="", help="e.g. amazonses.com")
        parser.add_argument("--envelope-subdomain", default="", help="e.g. send")
        parser.add_argument("--envelope-mx", default="", help="MX host of the envelope subdomain")
        parser.add_argument("--dkim-selector", default="", help="e.g. resend")
        parser.add_argument("--dkim-type", default="", choices=["", "TXT", "CNAME"])
        parser.add_argument(
            "--dkim-value", default="", help="TXT value or CNAME target; {domain} is replaced"
        )

    def handle(self, *args, **options):
        password = ""
        if options["password_file"]:
            try:
                if options["password_file"] == "-":
                    password = self.stdin.read() if hasattr(self, "stdin") else input()
                else:
                    password = Path(options["password_file"]).read_text()
            except OSError as exc:
                raise CommandError(f"Cannot read the password file: {exc.strerror}.")
            password = password.strip("\r\n")
        try:
            relay = relay_add(
                actor=Actor.system(),
                name=options["name"],
                host=options["host"],
                port=options["port"],
                username=options["user"],
                password=password,
                spf_include=options["spf_include"],
                envelope_subdomain=options["envelope_subdomain"],
                envelope_mx=options["envelope_mx"],
                dkim_selector=options["dkim_selector"],
                dkim_type=options["dkim_type"],
                dkim_value=options["dkim_value"],
            )
        except MailherdError as exc:
            raise CommandError(exc.message)
        self.stdout.write(f"added relay {relay.name} ({relay.hostname_port})")
