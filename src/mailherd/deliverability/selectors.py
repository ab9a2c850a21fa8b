"""Reads for deliverability: what the reports say about a domain's senders, and whether to tighten.

Everything here sums `DailySource` rows (one per domain, day and IP), never the raw reports.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.db.models import Max, Min, Sum
from django.utils import timezone

from mailherd.deliverability.models import DailySource, Report, ReportRefusal, SourceName

DEFAULT_WINDOW_DAYS = 30
# A source "sends real volume" from this share of the domain's messages (and this many messages) up.
DEFAULT_REAL_VOLUME_SHARE = 0.02
DEFAULT_REAL_VOLUME_MIN = 10
# ... and "is aligned" when at least this share of its messages passes DMARC (forwarders lose some).
DEFAULT_ALIGNED_SHARE = 0.98

# The steps of tightening, in order (the dns app's recommended schedule takes the same path).
STEPS = [("none", 100), ("quarantine", 25), ("quarantine", 100), ("reject", 100)]


def _setting(name, default):
    return getattr(settings, name, default)


def window_days_default() -> int:
    return int(_setting("MAILHERD_DMARC_WINDOW_DAYS", DEFAULT_WINDOW_DAYS))


@dataclass
class SourceSummary:
    ip: str
    name: str
    organization: str
    messages: int
    spf: int
    dkim: int
    aligned: int

    @property
    def failed(self) -> int:
        return self.messages - self.aligned

    @property
    def aligned_share(self) -> float:
        return self.aligned / self.messages if self.messages else 1.0

    def share(self, count: int) -> float:
        return count / self.messages if self.messages else 0.0

    @property
    def spf_share(self) -> float:
        return self.share(self.spf)

    @property
    def dkim_share(self) -> float:
        return self.share(self.dkim)

    @property
    def label(self) -> str:
        return self.name or self.ip

    def as_dict(self) -> dict:
        return {
            "ip": self.ip,
            "name": self.name,
            "organization": self.organization,
            "messages": self.messages,
            "spf": self.spf,
            "dkim": self.dkim,
            "aligned": self.aligned,
            "failed": self.failed,
        }


@dataclass
class DaySummary:
    day: date
    messages: int
    aligned: int

    @property
    def failed(self) -> int:
        return self.messages - self.aligned


@dataclass
class SourceGroup:
    organization: str
    sources: list[SourceSummary] = field(default_factory=list)

    @property
    def messages(self) -> int:
        return sum(s.messages for s in self.sources)

    @property
    def aligned(self) -> int:
        return sum(s.aligned for s in self.sources)

    @property
    def spf(self) -> int:
        return sum(s.spf for s in self.sources)

    @property
    def dkim(self) -> int:
        return sum(s.dkim for s in self.sources)

    @property
    def failed(self) -> int:
        return self.messages - self.aligned


@dataclass
class Proposal:
    ready: bool
    current_policy: str
    current_pct: int
    next_policy: str | None
    next_pct: int | None
    days: int
    message: str
    failing_sources: list[SourceSummary] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "ready": self.ready,
            "current": {"policy": self.current_policy, "pct": self.current_pct},
            "next": (
                {"policy": self.next_policy, "pct": self.next_pct} if self.next_policy else None
            ),
            "days": self.days,
            "message": self.message,
            "failing_sources": [s.as_dict() for s in self.failing_sources],
        }


@dataclass
class DmarcSummary:
    days: int
    since: date
    until: date
    messages: int
    aligned: int
    sources: list[SourceSummary]
    per_day: list[DaySummary]
    proposal: Proposal
    first_day: date | None = None

    @property
    def failed(self) -> int:
        return self.messages - self.aligned

    @property
    def groups(self) -> list[SourceGroup]:
        groups: dict[str, SourceGroup] = {}
        for source in self.sources:
            key = source.organization or "Unknown (no reverse name)"
            groups.setdefault(key, SourceGroup(key)).sources.append(source)
        return sorted(groups.values(), key=lambda g: -g.messages)

    def as_dict(self) -> dict:
        return {
            "days": self.days,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "messages": self.messages,
            "aligned": self.aligned,
            "failed": self.failed,
            "sources": [s.as_dict() for s in self.sources],
            "per_day": [
                {
                    "day": d.day.isoformat(),
                    "messages": d.messages,
                    "aligned": d.aligned,
                    "failed": d.failed,
                }
                for d in self.per_day
            ],
            "proposal": self.proposal.as_dict(),
        }


def _today() -> date:
    return timezone.now().astimezone(timezone.get_current_timezone()).date()


def source_summaries(*, domain, since: date, until: date) -> list[SourceSummary]:
    rows = (
        DailySource.objects.filter(domain=domain, day__gte=since, day__lte=until)
        .values("source_ip")
        .annotate(
            total=Sum("messages"),
            spf=Sum("spf_aligned"),
            dkim=Sum("dkim_aligned"),
            passed=Sum("dmarc_pass"),
        )
        .order_by("-total", "source_ip")
    )
    rows = list(rows)
    names = {n.ip: n for n in SourceName.objects.filter(ip__in=[r["source_ip"] for r in rows])}
    result = []
    for row in rows:
        name = names.get(row["source_ip"])
        result.append(
            SourceSummary(
                ip=row["source_ip"],
                name=name.name if name else "",
                organization=name.organization_name if name else "",
                messages=row["total"] or 0,
                spf=row["spf"] or 0,
                dkim=row["dkim"] or 0,
                aligned=row["passed"] or 0,
            )
        )
    return result


def dmarc_summary(*, domain, days: int | None = None) -> DmarcSummary:
    """The last `days` days (today included) of aggregate reports for `domain`."""
    days = days or window_days_default()
    until = _today()
    since = until - timedelta(days=days - 1)
    sources = source_summaries(domain=domain, since=since, until=until)
    by_day = {
        row["day"]: row
        for row in DailySource.objects.filter(domain=domain, day__gte=since, day__lte=until)
        .values("day")
        .annotate(total=Sum("messages"), passed=Sum("dmarc_pass"))
    }
    per_day = []
    for offset in range(days):
        day = since + timedelta(days=offset)
        row = by_day.get(day)
        per_day.append(DaySummary(day, row["total"] if row else 0, row["passed"] if row else 0))
    first_day = DailySource.objects.filter(domain=domain).aggregate(first=Min("day"))["first"]
    summary = DmarcSummary(
        days=days,
        since=since,
        until=until,
        messages=sum(s.messages for s in sources),
        aligned=sum(s.aligned for s in sources),
        sources=sources,
        per_day=per_day,
        proposal=None,  # type: ignore[arg-type]
        first_day=first_day,
    )
    summary.proposal = _proposal(domain=domain, summary=summary)
    return summary


def _next_step(policy: str, pct: int) -> tuple[str, int] | None:
    for step in STEPS[1:]:
        if _stricter(step, (policy, pct)):
            return step
    return None


def _stricter(a: tuple[str, int], b: tuple[str, int]) -> bool:
    order = {"none": 0, "quarantine": 1, "reject": 2}
    return (order[a[0]], a[1]) > (order[b[0]], b[1] if b[0] != "none" else 0)


def failing_sources(summary: DmarcSummary) -> list[SourceSummary]:
    """Sources with real volume whose messages do not (mostly) pass DMARC."""
    share = float(_setting("MAILHERD_DMARC_REAL_VOLUME_SHARE", DEFAULT_REAL_VOLUME_SHARE))
    minimum = int(_setting("MAILHERD_DMARC_REAL_VOLUME_MIN", DEFAULT_REAL_VOLUME_MIN))
    aligned_share = float(_setting("MAILHERD_DMARC_ALIGNED_SHARE", DEFAULT_ALIGNED_SHARE))
    real = max(minimum, summary.messages * share)
    return [s for s in summary.sources if s.messages >= real and s.aligned_share < aligned_share]


def _proposal(*, domain, summary: DmarcSummary) -> Proposal:
    from mailherd.dns.selectors import dns_settings_for

    dns_settings = dns_settings_for(domain=domain)
    policy, pct = dns_settings.dmarc_policy, dns_settings.dmarc_pct
    step = _next_step(policy, pct)

    def proposal(ready, message, failing=()):
        return Proposal(
            ready=ready,
            current_policy=policy,
            current_pct=pct if policy != "none" else 100,
            next_policy=step[0] if step else None,
            next_pct=step[1] if step else None,
            days=summary.days,
            message=message,
            failing_sources=list(failing),
        )

    if step is None:
        return proposal(False, "The policy is already at its strictest (p=reject).")
    if summary.first_day is None or summary.messages == 0:
        return proposal(
            False, f"No aggregate reports yet: wait for {summary.days} days of reports."
        )
    if summary.first_day > summary.since:
        have = (summary.until - summary.first_day).days + 1
        return proposal(
            False,
            f"Reports cover {have} of the {summary.days} days needed; wait {summary.days - have} more.",
        )
    failing = failing_sources(summary)
    target = f"p={step[0]}" + (f"; pct={step[1]}" if step[1] < 100 else "")
    if failing:
        names = ", ".join(
            f"{s.ip}" + (f" ({s.name})" if s.name else "") + f": {s.failed} of {s.messages} fail"
            for s in failing[:5]
        )
        more = f" and {len(failing) - 5} more" if len(failing) > 5 else ""
        return proposal(
            False,
            f"Not yet: moving to {target} would hurt mail from {names}{more}. "
            "Authorize them (SPF include or DKIM at that service) or stop them sending as you.",
            failing,
        )
    return proposal(
        True,
        f"Every source with real volume passed DMARC over the last {summary.days} days: "
        f"you can move to {target}.",
    )


def tightening_blockers(*, domain) -> str:
    """Why tightening DMARC now would hurt legitimate mail (the failing sources), or "" if nothing
    in the reports says so. The dns app's schedule holds due stages on it."""
    proposal = dmarc_summary(domain=domain).proposal
    return proposal.message if proposal.failing_sources else ""


def report_list(*, domain, limit: int = 20):
    return Report.objects.filter(domain=domain).order_by("-begin", "-id")[:limit]


def refusal_list(*, domain, limit: int = 10):
    return ReportRefusal.objects.filter(domain=domain).order_by("-received_at", "-id")[:limit]


def tls_summary(*, domain, days: int) -> dict:
    since = timezone.now() - timedelta(days=days)
    totals = Report.objects.filter(domain=domain, kind=Report.Kind.TLS, end__gte=since).aggregate(
        sessions=Sum("messages"), failed=Sum("failed"), last=Max("end")
    )
    return {
        "sessions": totals["sessions"] or 0,
        "failed": totals["failed"] or 0,
        "last": totals["last"],
    }


ALERT_SHOWN_DAYS = 14


def alert_list_open(*, organization, domain=None, limit: int = 5):
    """Undismissed alerts of the last two weeks, newest first."""
    from mailherd.deliverability.models import Alert

    alerts = Alert.objects.filter(
        organization=organization,
        dismissed_at__isnull=True,
        created_at__gte=timezone.now() - timedelta(days=ALERT_SHOWN_DAYS),
    ).select_related("domain")
    if domain is not None:
        alerts = alerts.filter(domain=domain)
    return list(alerts.order_by("-created_at", "-id")[:limit])
