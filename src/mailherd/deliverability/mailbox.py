"""Reports by mail: the IMAP watcher (mailherd.imapwatch) hands us new messages of report mailboxes.

Watched: every hosted mailbox that a domain's DMARC `rua` (default postmaster@<domain>) or TLS-RPT
address names, and the operator-wide reporting mailbox (MAILHERD_DMARC_REPORT_MAILBOX) if set.
Each attachment (zip, gzip, XML, JSON; or the message body when it is itself the file) is taken by
services.report_ingest for the domain the report is about; refused files are logged with their
reason (ReportRefusal) and never stop the others or the message.
"""

import logging

from django.conf import settings

from mailherd.imapwatch.registry import MessageHandler

logger = logging.getLogger(__name__)

REPORT_SUFFIXES = (".xml", ".gz", ".gzip", ".zip", ".json")
REPORT_TYPES = ("zip", "gzip", "xml", "json", "tlsrpt", "octet-stream")


def operator_mailbox_address() -> str:
    return (getattr(settings, "MAILHERD_DMARC_REPORT_MAILBOX", "") or "").strip().lower()


def report_mailbox_ids() -> set[int]:
    from mailherd.dns.models import DnsSettings
    from mailherd.hosting.models import Domain, Mailbox

    by_org: set[tuple[int, str]] = set()
    configured = {
        s.domain_id: s
        for s in DnsSettings.objects.select_related("domain").filter(
            domain__verified_at__isnull=False
        )
    }
    for domain in Domain.objects.filter(verified_at__isnull=False).only(
        "pk", "name", "organization_id"
    ):
        dns_settings = configured.get(domain.pk)
        rua = (
            dns_settings.dmarc_rua_address(domain) if dns_settings else f"postmaster@{domain.name}"
        )
        by_org.add((domain.organization_id, rua.lower()))
        if dns_settings and dns_settings.tls_rpt_rua:
            by_org.add((domain.organization_id, dns_settings.tls_rpt_rua.lower()))
    ids = {
        m.pk
        for m in Mailbox.objects.filter(address__in={a for _, a in by_org}).only(
            "pk", "address", "organization_id"
        )
        if (m.organization_id, m.address.lower()) in by_org  # a tenant's reports stay its own
    }
    operator = operator_mailbox_address()
    if operator:
        ids |= set(Mailbox.objects.filter(address=operator).values_list("pk", flat=True))
    return ids


def _files(message) -> list[tuple[str, bytes]]:
    files = []
    for attachment in message.attachments:
        name = (attachment.filename or "").lower()
        if name.endswith(REPORT_SUFFIXES) or any(
            t in attachment.content_type for t in REPORT_TYPES
        ):
            files.append((attachment.filename, attachment.content))
    body_type = message.parsed.get_content_type()
    if (
        not files
        and not message.parsed.is_multipart()
        and any(t in body_type for t in REPORT_TYPES)
    ):
        files.append(("message body", message.parsed.get_payload(decode=True) or b""))
    return files


def _domain_for(*, mailbox, report_domain: str):
    """The verified domain the report is about: the mailbox's organization's, or (operator-wide
    mailbox) any organization's; the most specific name wins."""
    from mailherd.hosting.models import Domain

    labels = report_domain.split(".")
    candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    domains = Domain.objects.filter(name__in=candidates, verified_at__isnull=False)
    if mailbox.address.lower() != operator_mailbox_address():
        domains = domains.filter(organization_id=mailbox.organization_id)
    found = sorted(domains.select_related("organization"), key=lambda d: -len(d.name))
    return found[0] if found else None


def handle_report_message(message) -> int:
    """Ingest every report file of the message; return how many were new."""
    from mailherd.core.actors import Actor
    from mailherd.deliverability.errors import ReportRejected
    from mailherd.deliverability.models import Report, ReportRefusal
    from mailherd.deliverability.parsing import ReportRefused
    from mailherd.deliverability.services import report_ingest, report_parse

    mailbox = message.mailbox
    taken = 0
    for filename, data in _files(message):
        try:
            parsed = report_parse(data)
        except ReportRefused as exc:
            ReportRefusal.objects.create(
                organization_id=mailbox.organization_id,
                domain=mailbox.domain,
                filename=filename[:255],
                code=exc.code,
                reason=exc.reason,
                received_via=Report.Source.IMAP,
                size_bytes=min(len(data), 2**31 - 1),
            )
            continue
        domain = _domain_for(mailbox=mailbox, report_domain=parsed.domain)
        if domain is None:
            logger.info("report for %s in %s: no such domain here", parsed.domain, mailbox.address)
            if mailbox.address.lower() != operator_mailbox_address():
                ReportRefusal.objects.create(
                    organization_id=mailbox.organization_id,
                    domain=mailbox.domain,
                    filename=filename[:255],
                    code="report_wrong_domain",
                    reason=f"This report is about {parsed.domain}, not a domain of this organization.",
                    received_via=Report.Source.IMAP,
                    size_bytes=min(len(data), 2**31 - 1),
                )
            continue
        try:
            result = report_ingest(
                actor=Actor.system(),
                domain=domain,
                data=data,
                parsed=parsed,
                received_via=Report.Source.IMAP,
                filename=filename,
            )
        except ReportRejected:
            continue  # logged as a ReportRefusal by the service
        taken += 0 if result.duplicate else 1
    return taken


class ReportMailboxHandler(MessageHandler):
    name = "deliverability_reports"

    def mailbox_ids(self) -> set[int]:
        return report_mailbox_ids()

    def handle(self, message) -> None:
        handle_report_message(message)
