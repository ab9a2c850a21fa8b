from django.core.management.base import BaseCommand, CommandError

from mailherd.core.actors import Actor
from mailherd.core.errors import MailherdError
from mailherd.tenancy.services import organization_create, owner_account_ensure, sign_in_link_create
from mailherd.tenancy.tokens import sign_in_link_days


class Command(BaseCommand):
    help = (
        "Create an organization with an owner (created if new). Without --owner-password, print a"
        " one-time sign-in link for the owner. The slug is always the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--plan", default=None, help="Plan slug (default: the default plan)")
        parser.add_argument(
            "--owner-password",
            default=None,
            help="Password for a new owner, who can then sign in at once (no email check)",
        )

    def handle(self, *args, **options):
        from django.db import transaction

        try:
            with transaction.atomic():
                owner, warnings = owner_account_ensure(
                    email=options["owner_email"], password=options["owner_password"]
                )
                organization = organization_create(
                    actor=Actor.system(),
                    name=options["name"],
                    owner=owner,
                    plan_slug=options["plan"],
                )
        except MailherdError as exc:
            raise CommandError(exc.message)
        for warning in warnings:
            self.stderr.write(f"Warning: {warning}")
        if options["owner_password"] is None and not owner.is_staff:
            self.stdout.write(
                f"Sign-in link for {owner.email} (one use, valid {sign_in_link_days()} days):"
                f" {sign_in_link_create(user=owner)}"
            )
        self.stdout.write(organization.slug)
