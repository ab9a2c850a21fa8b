from django.core.management.base import BaseCommand, CommandError

from mailherd.core.actors import Actor
from mailherd.core.errors import MailherdError
from mailherd.mailcow.models import MailServer
from mailherd.mailcow.relays import relay_get, server_relay_set


class Command(BaseCommand):
    help = "Make a relay the default smarthost of a Mailcow server (--relay none: send directly)."

    def add_arguments(self, parser):
        parser.add_argument("--server", required=True, help="The server's name")
        parser.add_argument("--relay", required=True, help="The relay's name, or none")

    def handle(self, *args, **options):
        server = MailServer.objects.filter(name=options["server"]).first()
        if server is None:
            raise CommandError(f"No Mailcow server named {options['server']}.")
        try:
            relay = None if options["relay"].lower() == "none" else relay_get(options["relay"])
            queued = server_relay_set(actor=Actor.system(), server=server, relay=relay)
        except MailherdError as exc:
            raise CommandError(exc.message)
        target = relay.name if relay else "no relay (direct)"
        self.stdout.write(f"{server.name} now sends through {target}; {queued} domain(s) queued")
