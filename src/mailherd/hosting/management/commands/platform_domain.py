"""Show or name the operator's platform domain (members of paying organizations get an address there)."""

from django.core.management.base import BaseCommand, CommandError

from mailherd.core.actors import Actor
from mailherd.core.errors import MailherdError
from mailherd.hosting.services.platform import platform_domain_get, platform_domain_set


class Command(BaseCommand):
    help = (
        "Without arguments, print the platform domain. With a name, make that verified domain the platform "
        'domain ("" clears it while no platform address exists).'
    )

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", default=None, help="A verified domain, or \"\" to clear")

    def handle(self, *args, name=None, **options):
        if name is not None:
            try:
                platform_domain_set(actor=Actor.system(), name=name)
            except MailherdError as exc:
                raise CommandError(exc.message)
        domain = platform_domain_get()
        self.stdout.write(domain.name if domain else "(no platform domain)")
