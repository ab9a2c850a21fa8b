"""Run the reconciler once now: compare each server with Mailherd, repair, report.

Exit status 0 when it ran, whatever it found; non-zero only when it could not
run (unknown server name, a server that did not answer).
"""

from django.core.management.base import BaseCommand, CommandError

from mailherd.hosting.models import ProvisioningOp
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.reconciler import reconcile_server
from mailherd.mailcow.client import MailcowError
from mailherd.mailcow.models import MailServer


class Command(BaseCommand):
    help = (
        "Reconcile the Mailcow servers now (the scheduler does it every 10 minutes): queue repairs "
        "for what Mailherd owns, apply them, and print what was repaired and what was reported."
    )

    def add_arguments(self, parser):
        parser.add_argument("--server", help="Only this server (its name); default: every active server")
        parser.add_argument(
            "--queue-only",
            action="store_true",
            help="Queue the repairs in the outbox and leave them to the workers",
        )

    def handle(self, *args, server=None, queue_only=False, **options):
        servers = MailServer.objects.filter(is_active=True).order_by("name")
        if server:
            servers = MailServer.objects.filter(name=server)
            if not servers.exists():
                names = ", ".join(MailServer.objects.order_by("name").values_list("name", flat=True))
                raise CommandError(f"No mail server named {server!r} (known: {names or 'none'}).")
        unreachable = []
        for mail_server in servers:
            self.stdout.write(f"server {mail_server.name}:")
            try:
                result = reconcile_server(server=mail_server)
            except MailcowError as exc:
                unreachable.append(mail_server.name)
                self.stderr.write(f"  could not reconcile {mail_server.name}: {exc}")
                continue
            if result.op_ids and not queue_only:
                outbox_drain(max_seconds=120)
            outcomes = {
                op.pk: op for op in ProvisioningOp.objects.filter(pk__in=result.op_ids).only("status", "last_error")
            }
            for line, op_id in zip(result.repaired, result.op_ids, strict=True):
                op = outcomes.get(op_id)
                self.stdout.write(f"  repaired: {line} [{_outcome(op, queue_only)}]")
            for line in result.parked:
                self.stdout.write(f"  reported: {line}")
            for line in result.unknown:
                self.stdout.write(f"  reported: {line} is on the server, not in Mailherd")
            if not (result.repaired or result.parked or result.unknown):
                self.stdout.write("  in sync")
            self.stdout.write(
                f"  {len(result.repaired)} repaired, {len(result.parked) + len(result.unknown)} reported"
            )
        if unreachable:
            raise CommandError(f"Not reconciled: {', '.join(unreachable)}.")


def _outcome(op, queue_only) -> str:
    if op is None or op.status == ProvisioningOp.Status.DONE:
        return "applied"
    if op.status == ProvisioningOp.Status.FAILED:
        return f"refused by the server: {op.last_error}"
    if queue_only:
        return "queued"
    return f"will retry: {op.last_error}" if op.last_error else "queued"
