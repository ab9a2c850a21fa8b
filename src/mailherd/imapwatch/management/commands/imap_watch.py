from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Watch mailboxes over IMAP for the registered message handlers (mail rules, reports)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--capacity", type=int, default=None, help="most mailboxes this process holds"
        )
        parser.add_argument("--poll-seconds", type=float, default=None)

    def handle(self, *args, **options):
        import resource

        from mailherd.imapwatch.engine import run_watcher

        # One connection per watched mailbox: lift the open-files limit as far as allowed.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        run_watcher(capacity=options["capacity"], poll_seconds=options["poll_seconds"])
