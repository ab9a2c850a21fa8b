"""REST API v1 for DMARC/TLS reports: upload a report, read what the reports say. Thin."""

from django.http import Http404
from ninja import Query, Router, Schema, Status

from mailherd.core.errors import ValidationFailed
from mailherd.deliverability import selectors, services
from mailherd.deliverability.models import Report

router = Router(tags=["deliverability"])


def _hosting_enabled(operation):
    import functools

    from mailherd.operator.selectors import feature_require

    @functools.wraps(operation)
    def wrapper(request, *args, **kwargs):
        feature_require("email_hosting", request.organization)
        return operation(request, *args, **kwargs)

    return wrapper


router.add_decorator(_hosting_enabled)


class ErrorOut(Schema):
    code: str
    message: str


class ReportOut(Schema):
    id: int
    status: str  # "created" or "duplicate"
    duplicate: bool
    kind: str
    reporter: str
    report_id: str
    begin: str
    end: str
    messages: int
    failed: int


class SourceOut(Schema):
    ip: str
    name: str
    organization: str
    messages: int
    spf: int
    dkim: int
    aligned: int
    failed: int


class DayOut(Schema):
    day: str
    messages: int
    aligned: int
    failed: int


class StepOut(Schema):
    policy: str
    pct: int


class ProposalOut(Schema):
    ready: bool
    current: StepOut
    next: StepOut | None
    days: int
    message: str
    failing_sources: list[SourceOut]


class DmarcOut(Schema):
    days: int
    since: str
    until: str
    messages: int
    aligned: int
    failed: int
    sources: list[SourceOut]
    per_day: list[DayOut]
    proposal: ProposalOut


def _domain(request, name):
    from mailherd.hosting.selectors import domain_get

    domain = domain_get(organization=request.organization, name=name)
    if domain is None:
        raise Http404
    return domain


def _report_out(report: Report, duplicate: bool) -> dict:
    return {
        "id": report.pk,
        "status": "duplicate" if duplicate else "created",
        "duplicate": duplicate,
        "kind": report.kind,
        "reporter": report.reporter,
        "report_id": report.report_id,
        "begin": report.begin.isoformat(),
        "end": report.end.isoformat(),
        "messages": report.messages,
        "failed": report.failed,
    }


def _upload(request, domain) -> tuple[bytes, str]:
    """The report file: the first multipart file, or else the raw body. Bounded before reading."""
    limit = services.max_report_bytes()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    # Refuse a huge upload before reading it (multipart adds a little framing).
    if declared > limit + 64 * 1024:
        services.report_refuse_too_large(
            domain=domain, size=declared, received_via=Report.Source.API
        )
    if request.content_type == "multipart/form-data":
        upload = request.FILES.get("file") or next(iter(request.FILES.values()), None)
        if upload is None:
            raise ValidationFailed(
                "Send the report as the request body, or as a multipart file named 'file'.",
                field="file",
            )
        return upload.read(limit + 1), upload.name or ""
    return request.read(limit + 1), ""


@router.post(
    "/domains/{name}/dmarc-reports",
    response={200: ReportOut, 201: ReportOut, 404: ErrorOut, 422: ErrorOut},
    summary="Upload a DMARC aggregate or SMTP TLS report",
)
def dmarc_report_upload(request, name: str):
    """The report file (XML, JSON, zip or gzip) as the body, or as multipart field `file`.

    201: taken (the report's `id`). 200: `duplicate` (this report was already received; counted
    once). 422: refused, with the reason in `message`.
    """
    domain = _domain(request, name)
    data, filename = _upload(request, domain)
    result = services.report_ingest(
        actor=request.actor,
        domain=domain,
        data=data,
        received_via=Report.Source.API,
        filename=filename,
    )
    return Status(200 if result.duplicate else 201, _report_out(result.report, result.duplicate))


@router.get(
    "/domains/{name}/dmarc",
    response={200: DmarcOut, 404: ErrorOut, 422: ErrorOut},
    summary="What the DMARC aggregate reports say about the domain's senders",
)
def dmarc_summary(request, name: str, days: int = Query(30, ge=1, le=366)):
    """Messages, aligned and failed over the last `days` days, per sending source, and whether
    the DMARC policy can be tightened (`proposal`)."""
    domain = _domain(request, name)
    return Status(200, selectors.dmarc_summary(domain=domain, days=days).as_dict())


@router.post(
    "/domains/{name}/dmarc/proposal/apply",
    response={200: StepOut, 404: ErrorOut, 409: ErrorOut},
    summary="Take the DMARC step that the reports propose",
)
def dmarc_proposal_apply(request, name: str):
    """Moves the policy one step (none → quarantine 25 % → quarantine → reject) when the
    reports of the last 30 days support it; 409 `proposal_not_ready` with the reason otherwise."""
    domain = _domain(request, name)
    proposal = services.dmarc_proposal_apply(actor=request.actor, domain=domain)
    return Status(200, {"policy": proposal.next_policy, "pct": proposal.next_pct})


class AlertOut(Schema):
    id: int
    kind: str
    domain: str
    message: str
    data: dict
    created_at: str
    dismissed: bool


def _alert_out(alert) -> dict:
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "domain": alert.domain.name,
        "message": alert.message,
        "data": alert.data,
        "created_at": alert.created_at.isoformat(),
        "dismissed": alert.dismissed_at is not None,
    }


@router.get(
    "/domains/{name}/dmarc/alerts",
    response={200: list[AlertOut], 404: ErrorOut},
    summary="Open deliverability alerts of the domain (last 14 days)",
)
def dmarc_alert_list(request, name: str):
    """What the reports flagged in the last 14 days and nobody dismissed: a new sending source, a
    sudden rise in DMARC failures, TLS failures. Newest first, at most 100."""
    domain = _domain(request, name)
    return Status(
        200,
        [
            _alert_out(a)
            for a in selectors.alert_list_open(
                organization=request.organization, domain=domain, limit=100
            )
        ],
    )


@router.post(
    "/dmarc-alerts/{alert_id}/dismiss",
    response={200: AlertOut, 404: ErrorOut},
    summary="Dismiss a deliverability alert",
)
def dmarc_alert_dismiss(request, alert_id: int):
    """Mark the alert as seen: it leaves the open list. Dismissing it again changes nothing."""
    from mailherd.deliverability import alerts

    alert = alerts.alert_dismiss(
        actor=request.actor, organization=request.organization, alert_id=alert_id
    )
    return Status(200, _alert_out(alert))
