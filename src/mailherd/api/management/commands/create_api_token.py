from django.core.management.base import BaseCommand, CommandError

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.tenancy.models import Organization


class Command(BaseCommand):
    help = "Create an API token for an organization and print it (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization slug")
        parser.add_argument("--name", default="command line")

    def handle(self, *args, **options):
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['org']!r}")
        _token, plaintext = api_token_create(
            actor=Actor.system(), organization=organization, name=options["name"]
        )
        self.stdout.write(plaintext)
