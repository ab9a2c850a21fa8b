from django.core.management.base import BaseCommand, CommandError

from mailherd.core.actors import Actor
from mailherd.core.errors import MailherdError
from mailherd.mailcow.models import MailServer
from mailherd.webmail.services import webmail_sso_setup


class Command(BaseCommand):
    help = "Make Mailherd the OpenID provider of a Mailcow server's webmail (writes its identity provider)."

    def add_arguments(self, parser):
        parser.add_argument("--server", required=True, help="The registered server's name")
        parser.add_argument(
            "--webmail-url",
            required=True,
            help="Mailcow's web address, e.g. https://mail.example.net",
        )
        parser.add_argument(
            "--extra-url",
            action="append",
            default=[],
            help="Another webmail host of the same Mailcow",
        )
        parser.add_argument(
            "--site-url",
            default=None,
            help="Mailherd's address as Mailcow reaches it (default MAILHERD_SITE_URL)",
        )
        parser.add_argument(
            "--rotate-secret", action="store_true", help="Issue a new client secret"
        )

    def handle(self, *args, **options):
        server = MailServer.objects.filter(name=options["server"]).first()
        if server is None:
            raise CommandError(f"No Mailcow server named {options['server']!r} (see add_server).")
        try:
            report = webmail_sso_setup(
                actor=Actor.system(),
                mail_server=server,
                webmail_url=options["webmail_url"],
                extra_urls=options["extra_url"],
                site_url=options["site_url"],
                rotate_secret=options["rotate_secret"],
            )
        except MailherdError as exc:
            raise CommandError(exc.message)
        for line in report.lines:
            self.stdout.write(line)
        if not report.tested:
            raise CommandError(
                "Mailcow could not reach Mailherd's token URL: check its address and certificate."
            )
        self.stdout.write(
            f"webmail sign-in ready: mailboxes in sso mode open {report.sso.webmail_url}/?iam_sso=1"
        )
