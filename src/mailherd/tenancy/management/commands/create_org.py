from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.core.errors import MailherdError
from mailherd.tenancy.models import User
from mailherd.tenancy.services import organization_create


class Command(BaseCommand):
    help = "Create an organization with an owner (created if new) and print its slug."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--plan", default=None, help="Plan slug (default: the default plan)")

    def handle(self, *args, **options):
        from django.core.exceptions import ValidationError
        from django.core.validators import validate_email

        email = options["owner_email"].strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{email!r} is not a valid email address")
        try:
            with transaction.atomic():
                owner, created = User.objects.get_or_create(email=email)
                if created:
                    owner.set_unusable_password()  # they set one through "forgot password"
                    owner.save()
                organization = organization_create(
                    actor=Actor.system(),
                    name=options["name"],
                    owner=owner,
                    plan_slug=options["plan"],
                )
        except MailherdError as exc:
            raise CommandError(exc.message)
        self.stdout.write(organization.slug)
