"""Writes for deliverability: take in reports, keep the daily sums, name the sending sources.

See docs/deliverability.md.
"""

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import dns.asyncresolver
import dns.exception
import dns.resolver
import dns.reversename
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.deliverability.errors import ReportRejected
from mailherd.deliverability.models import (
    DailySource,
    Report,
    ReportRecord,
    ReportRefusal,
    SourceName,
)
from mailherd.deliverability.parsing import ParsedReport, ReportRefused, parse_report

logger = logging.getLogger(__name__)

DEFAULT_MAX_REPORT_BYTES = 10_000_000
DEFAULT_MAX_UNPACKED_BYTES = 25_000_000
NAME_MAX_AGE = timedelta(days=7)


def max_report_bytes() -> int:
    return int(getattr(settings, "MAILHERD_DMARC_MAX_REPORT_BYTES", DEFAULT_MAX_REPORT_BYTES))


def max_unpacked_bytes() -> int:
    return int(getattr(settings, "MAILHERD_DMARC_MAX_UNPACKED_BYTES", DEFAULT_MAX_UNPACKED_BYTES))


@dataclass
class IngestResult:
    report: Report
    duplicate: bool


def _refuse(*, organization, domain, filename, received_via, size, code, reason):
    ReportRefusal.objects.create(
        organization=organization,
        domain=domain,
        filename=(filename or "")[:255],
        code=code,
        reason=reason,
        received_via=received_via,
        size_bytes=min(size, 2**31 - 1),
    )
    raise ReportRejected(reason, code=code)


def report_refuse_too_large(*, domain, size: int, received_via: str, filename: str = "") -> None:
    """Refuse a file known to be too large before it is read."""
    from mailherd.deliverability.parsing import too_large_reason

    _refuse(
        organization=domain.organization,
        domain=domain,
        filename=filename,
        received_via=received_via,
        size=size,
        code="report_too_large",
        reason=too_large_reason(size, max_report_bytes()),
    )


def _covers(domain_name: str, report_domain: str) -> bool:
    return report_domain == domain_name or report_domain.endswith("." + domain_name)


def report_parse(data: bytes) -> ParsedReport:
    """Parse with the configured limits; raises parsing.ReportRefused."""
    return parse_report(data, max_bytes=max_report_bytes(), max_unpacked_bytes=max_unpacked_bytes())


def report_ingest(
    *,
    actor: Actor,
    domain,
    data: bytes,
    received_via: str,
    filename: str = "",
    parsed: ParsedReport | None = None,
) -> IngestResult:
    """Take one report file for `domain`. A second copy of a report is a duplicate, counted once.

    Refused files raise ReportRejected (422) with the reason, and are logged as ReportRefusal.
    """
    organization = domain.organization
    size = len(data)
    if parsed is None:
        try:
            parsed = report_parse(data)
        except ReportRefused as exc:
            _refuse(
                organization=organization,
                domain=domain,
                filename=filename,
                received_via=received_via,
                size=size,
                code=exc.code,
                reason=exc.reason,
            )
    if not _covers(domain.name, parsed.domain):
        _refuse(
            organization=organization,
            domain=domain,
            filename=filename,
            received_via=received_via,
            size=size,
            code="report_wrong_domain",
            reason=f"This report is about {parsed.domain or 'no domain'}, not {domain.name}.",
        )
    existing = _existing(domain=domain, parsed=parsed)
    if existing is not None:
        return IngestResult(existing, duplicate=True)
    try:
        report = _store(domain=domain, parsed=parsed, received_via=received_via, size=size)
    except IntegrityError:  # the same report arrived at the same moment by another path
        existing = _existing(domain=domain, parsed=parsed)
        if existing is None:
            raise
        return IngestResult(existing, duplicate=True)
    audit_record(
        actor=actor,
        action="deliverability.report_ingest",
        organization=organization,
        obj=domain,
        data={"kind": parsed.kind, "reporter": parsed.reporter, "report_id": parsed.report_id},
    )
    ips = sorted({r.source_ip for r in parsed.records})
    if ips:
        transaction.on_commit(lambda: _names_refresh_later(ips))
    transaction.on_commit(lambda: _after_ingest(report_id=report.pk))
    return IngestResult(report, duplicate=False)


def _existing(*, domain, parsed: ParsedReport) -> Report | None:
    return Report.objects.filter(
        domain=domain, kind=parsed.kind, reporter=parsed.reporter, report_id=parsed.report_id
    ).first()


@transaction.atomic
def _store(*, domain, parsed: ParsedReport, received_via: str, size: int) -> Report:
    from mailherd.hosting.models import Domain

    # One ingestion per domain at a time, so the daily sums are added up without lost updates.
    Domain.objects.select_for_update().filter(pk=domain.pk).first()
    report = Report.objects.create(
        organization_id=domain.organization_id,
        domain=domain,
        kind=parsed.kind,
        reporter=parsed.reporter,
        reporter_email=parsed.reporter_email,
        report_id=parsed.report_id,
        begin=parsed.begin,
        end=parsed.end,
        policy_published=parsed.policy_published,
        messages=parsed.messages,
        failed=parsed.failed,
        details=parsed.details,
        received_via=received_via,
        size_bytes=min(size, 2**31 - 1),
    )
    if not parsed.records:
        return report
    ReportRecord.objects.bulk_create(
        [
            ReportRecord(
                report=report,
                day=r.day,
                source_ip=r.source_ip,
                messages=r.messages,
                spf_aligned=r.spf_aligned,
                dkim_aligned=r.dkim_aligned,
                dmarc_pass=r.dmarc_pass,
                disposition=r.disposition,
                header_from=r.header_from,
                envelope_from=r.envelope_from,
                dkim_domains=r.dkim_domains,
            )
            for r in parsed.records
        ],
        batch_size=500,
    )
    _daily_add(domain=domain, parsed=parsed)
    return report


def _daily_add(*, domain, parsed: ParsedReport) -> None:
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in parsed.records:
        row = sums[(r.day, r.source_ip)]
        row[0] += r.messages
        row[1] += r.messages if r.spf_aligned else 0
        row[2] += r.messages if r.dkim_aligned else 0
        row[3] += r.messages if r.dmarc_pass else 0
    days = {day for day, _ in sums}
    existing = {
        (row.day, row.source_ip): row
        for row in DailySource.objects.filter(
            domain=domain, day__in=days, source_ip__in={ip for _, ip in sums}
        )
    }
    changed, created = [], []
    for key, (messages, spf, dkim, passed) in sums.items():
        row = existing.get(key)
        if row is None:
            created.append(
                DailySource(
                    domain=domain,
                    day=key[0],
                    source_ip=key[1],
                    messages=messages,
                    spf_aligned=spf,
                    dkim_aligned=dkim,
                    dmarc_pass=passed,
                )
            )
            continue
        row.messages += messages
        row.spf_aligned += spf
        row.dkim_aligned += dkim
        row.dmarc_pass += passed
        changed.append(row)
    if changed:
        DailySource.objects.bulk_update(
            changed, ["messages", "spf_aligned", "dkim_aligned", "dmarc_pass"], batch_size=500
        )
    if created:
        DailySource.objects.bulk_create(created, batch_size=500)


def _after_ingest(*, report_id: int) -> None:
    """Hook for what follows a new report (alerts); never breaks the ingestion."""
    try:
        from mailherd.deliverability import alerts
    except ImportError:
        return
    try:
        alerts.alerts_evaluate_report(report_id=report_id)
    except Exception:  # an alert failing to go out must not lose the report
        logger.exception("alerts for report %s failed", report_id)


def dmarc_proposal_apply(*, actor: Actor, domain):
    """Take the step the reports propose now (the same rule as the schedule): p=none → quarantine
    25 % → 100 % → reject. Refused (409 proposal_not_ready) unless the reports support it."""
    from mailherd.deliverability.errors import ProposalNotReady
    from mailherd.deliverability.selectors import dmarc_summary
    from mailherd.dns.services import dns_settings_update

    proposal = dmarc_summary(domain=domain).proposal
    if not proposal.ready:
        raise ProposalNotReady(proposal.message)
    dns_settings_update(
        actor=actor, domain=domain, dmarc_policy=proposal.next_policy, dmarc_pct=proposal.next_pct
    )
    return proposal


# --- Names of sending sources -----------------------------------------------------------


def _names_refresh_later(ips: list[str]) -> None:
    from mailherd.deliverability.tasks import source_names_refresh_task

    fresh = set(
        SourceName.objects.filter(
            ip__in=ips, looked_up_at__gte=timezone.now() - NAME_MAX_AGE
        ).values_list("ip", flat=True)
    )
    missing = [ip for ip in ips if ip not in fresh]
    if missing:
        try:
            source_names_refresh_task.delay(missing)
        except Exception:  # no broker: the periodic sweep names them later
            logger.warning("could not queue the reverse lookups of %d sources", len(missing))


def _organization_of(name: str) -> tuple[str, str]:
    """(base domain, organization) from a reverse name, through parsedmarc's offline maps."""
    from parsedmarc.utils import get_base_domain, get_service_from_reverse_dns_base_domain

    base = get_base_domain(name) or ""
    if not base:
        return "", ""
    service = get_service_from_reverse_dns_base_domain(
        base, always_use_local_file=True, offline=True
    )
    return base, service.get("name") or base


async def _reverse_names(ips: list[str], *, concurrency: int = 50) -> dict[str, str | None]:
    """PTR names through the configured resolver; None when it could not answer (try again later)."""
    from mailherd.dns.resolver import make_async_resolver

    resolver = make_async_resolver()
    gate = asyncio.Semaphore(concurrency)

    async def one(ip: str):
        async with gate:
            try:
                answer = await resolver.resolve(dns.reversename.from_address(ip), "PTR")
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                return ip, ""
            except (dns.exception.DNSException, OSError):
                return ip, None
            return ip, str(answer[0].target).rstrip(".").lower()

    return dict(await asyncio.gather(*(one(ip) for ip in ips)))


def source_names_refresh(*, ips: list[str]) -> int:
    """Look up (again) the reverse names of `ips`; return how many were named."""
    results = asyncio.run(_reverse_names(list(dict.fromkeys(ips))))
    now = timezone.now()
    named = 0
    for ip, name in results.items():
        if name is None:
            continue
        base, organization_name = _organization_of(name) if name else ("", "")
        SourceName.objects.update_or_create(
            ip=ip,
            defaults={
                "name": name[:253],
                "base_domain": base[:253],
                "organization_name": organization_name[:255],
                "looked_up_at": now,
            },
        )
        named += 1 if name else 0
    return named


def source_names_sweep(*, limit: int = 500) -> int:
    """Name the sources never looked up or looked up over a week ago (periodic)."""
    stale_before = timezone.now() - NAME_MAX_AGE
    known = SourceName.objects.filter(looked_up_at__gte=stale_before).values_list("ip", flat=True)
    ips = list(
        DailySource.objects.exclude(source_ip__in=known)
        .values_list("source_ip", flat=True)
        .distinct()[:limit]
    )
    return source_names_refresh(ips=ips) if ips else 0
