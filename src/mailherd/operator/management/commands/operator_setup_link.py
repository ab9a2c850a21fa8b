"""Print a one-time two-factor set-up link for an operator account (e.g. the first one)."""

from django.core.management.base import BaseCommand, CommandError

from mailherd.core.actors import Actor
from mailherd.core.errors import MailherdError
from mailherd.operator.services import operator_enrolment_create
from mailherd.tenancy.models import User


class Command(BaseCommand):
    help = "Print a one-time link with which an operator sets up their authenticator."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)

    def handle(self, *args, email, **options):
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No account {email}.")
        try:
            self.stdout.write(operator_enrolment_create(actor=Actor.system(), user=user))
        except MailherdError as exc:
            raise CommandError(exc.message)
