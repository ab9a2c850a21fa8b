"""Alerts from the reports (writes): a new sending source, a sudden DMARC failure rate, TLS failures.

Evaluated after each new report (services.report_ingest, after commit). Each alert has a key and is
raised once per domain; it is emailed to the owners and admins, shown in the portal until
dismissed, and sent as a lifecycle webhook event where webhooks exist.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import NotFound
from mailherd.deliverability.models import Alert, DailySource, Report, ReportRecord, SourceName

logger = logging.getLogger(__name__)

# A new source is worth telling from this many messages in its first report.
DEFAULT_NEW_SOURCE_MIN = 10
# A day's failure share is "sudden" from this share up, at this many times the usual share...
DEFAULT_FAILURE_SHARE = 0.10
DEFAULT_FAILURE_FACTOR = 3.0
# ... on a day with at least this many messages, compared with the previous 14 days.
DEFAULT_FAILURE_MIN_MESSAGES = 50
BASELINE_DAYS = 14

WEBHOOK_EVENTS = {
    Alert.Kind.NEW_SOURCE: "deliverability.new_source",
    Alert.Kind.FAILURE_RATE: "deliverability.failure_rate",
    Alert.Kind.TLS_FAILURE: "deliverability.tls_failure",
}


def _setting(name, default):
    return type(default)(getattr(settings, name, default))


def alerts_evaluate_report(*, report_id: int) -> list[Alert]:
    report = Report.objects.select_related("domain", "organization").filter(pk=report_id).first()
    if report is None:
        return []
    if report.kind == Report.Kind.TLS:
        candidates = _tls_failures(report)
    else:
        candidates = _new_sources(report) + _failure_rate(report)
    raised = []
    for kind, key, message, data in candidates:
        alert = _raise(report=report, kind=kind, key=key, message=message, data=data)
        if alert is not None:
            raised.append(alert)
    for alert in raised:
        _notify(alert)
    return raised


def _new_sources(report: Report) -> list[tuple]:
    domain = report.domain
    earlier = Report.objects.filter(domain=domain, kind=Report.Kind.AGGREGATE).exclude(pk=report.pk)
    if not earlier.exists():  # the first report: every source is "new", none is news
        return []
    minimum = _setting("MAILHERD_DMARC_ALERT_NEW_SOURCE_MIN", DEFAULT_NEW_SOURCE_MIN)
    volumes = {
        row["source_ip"]: row
        for row in report.records.values("source_ip").annotate(
            total=Sum("messages"), passed_total=Sum("messages", filter=_passed())
        )
    }
    seen = set(
        ReportRecord.objects.filter(report__domain=domain, source_ip__in=list(volumes))
        .exclude(report=report)
        .values_list("source_ip", flat=True)
        .distinct()
    )
    names = {n.ip: n for n in SourceName.objects.filter(ip__in=list(volumes))}
    result = []
    for ip, row in sorted(volumes.items(), key=lambda item: -item[1]["total"]):
        if ip in seen or row["total"] < minimum:
            continue
        name = names.get(ip)
        label = ip + (f" ({name.name})" if name and name.name else "")
        failed = row["total"] - (row["passed_total"] or 0)
        verdict = (
            "all passed DMARC"
            if not failed
            else f"{failed} failed DMARC: if this is not yours, someone may be sending as you"
        )
        result.append(
            (
                Alert.Kind.NEW_SOURCE,
                f"new_source:{ip}",
                f"New sender for {domain.name}: {label} sent {row['total']} messages "
                f"(reported by {report.reporter}); {verdict}.",
                {
                    "ip": ip,
                    "name": name.name if name else "",
                    "messages": row["total"],
                    "failed": failed,
                    "report_id": report.pk,
                },
            )
        )
    return result


def _passed():
    from django.db.models import Q

    return Q(dmarc_pass=True)


def _failure_rate(report: Report) -> list[tuple]:
    domain = report.domain
    share_min = _setting("MAILHERD_DMARC_ALERT_FAILURE_SHARE", DEFAULT_FAILURE_SHARE)
    factor = _setting("MAILHERD_DMARC_ALERT_FAILURE_FACTOR", DEFAULT_FAILURE_FACTOR)
    minimum = _setting("MAILHERD_DMARC_ALERT_FAILURE_MIN_MESSAGES", DEFAULT_FAILURE_MIN_MESSAGES)
    result = []
    for day in sorted(set(report.records.values_list("day", flat=True))):
        today = DailySource.objects.filter(domain=domain, day=day).aggregate(
            total=Sum("messages"), passed=Sum("dmarc_pass")
        )
        total = today["total"] or 0
        if total < minimum:
            continue
        share = (total - (today["passed"] or 0)) / total
        before = DailySource.objects.filter(
            domain=domain, day__gte=day - timedelta(days=BASELINE_DAYS), day__lt=day
        ).aggregate(total=Sum("messages"), passed=Sum("dmarc_pass"))
        if not before["total"]:
            continue  # nothing to compare with
        usual = (before["total"] - (before["passed"] or 0)) / before["total"]
        if share >= share_min and share >= factor * usual:
            result.append(
                (
                    Alert.Kind.FAILURE_RATE,
                    f"failure_rate:{day.isoformat()}",
                    f"On {day:%d %b %Y} {share:.0%} of the mail sent as {domain.name} failed DMARC "
                    f"(usually {usual:.0%}): {total - (today['passed'] or 0)} of {total} messages.",
                    {
                        "day": day.isoformat(),
                        "share": round(share, 4),
                        "usual_share": round(usual, 4),
                        "messages": total,
                    },
                )
            )
    return result


def _tls_failures(report: Report) -> list[tuple]:
    if not report.failed:
        return []
    kinds = sorted(
        {
            str(detail.get("result_type"))
            for policy in report.details
            for detail in policy.get("failure_details", [])
        }
    )
    day = report.begin.date()
    return [
        (
            Alert.Kind.TLS_FAILURE,
            f"tls_failure:{report.reporter}:{day.isoformat()}",
            f"{report.reporter} could not deliver securely to {report.domain.name}: "
            f"{report.failed} of {report.messages} TLS connections failed on {day:%d %b %Y}"
            + (f" ({', '.join(kinds)})" if kinds else "")
            + ".",
            {
                "reporter": report.reporter,
                "failed": report.failed,
                "sessions": report.messages,
                "result_types": kinds,
                "day": day.isoformat(),
                "report_id": report.pk,
            },
        )
    ]


def _raise(*, report, kind, key, message, data) -> Alert | None:
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                organization=report.organization,
                domain=report.domain,
                kind=kind,
                key=key[:200],
                message=message,
                data=data,
            )
            _emit_webhook(alert)  # in the alert's transaction: both or neither
    except IntegrityError:
        return None  # raised before: once is enough
    audit_record(
        actor=Actor.system(),
        action=f"deliverability.alert.{kind}",
        organization=report.organization,
        obj=report.domain,
        data={"key": key},
    )
    return alert


def _notify(alert: Alert) -> None:
    from mailherd.notifications.services import email_send
    from mailherd.tenancy.models import Membership, Role

    domain = alert.domain
    context = {
        "alert": alert,
        "domain": domain,
        "organization": alert.organization,
        "senders_url": settings.SITE_URL
        + reverse(
            "deliverability:domain",
            kwargs={"org_slug": alert.organization.slug, "name": domain.name},
        ),
    }
    for membership in Membership.objects.filter(
        organization=alert.organization, role__in=(Role.OWNER, Role.ADMIN)
    ).select_related("user"):
        email_send(
            to=membership.user.email,
            template="deliverability_alert",
            context=context,
            organization=alert.organization,
        )
    Alert.objects.filter(pk=alert.pk).update(notified_at=timezone.now())


def _emit_webhook(alert: Alert) -> None:
    """The alert as a lifecycle event, for endpoints that subscribed to it."""
    from mailherd.webhooks.services import event_emit

    event_emit(
        organization=alert.organization,
        event_type=WEBHOOK_EVENTS[alert.kind],
        data={"domain": alert.domain.name, "message": alert.message, **alert.data},
        object_key=f"domain:{alert.domain.name}",
    )


def alert_dismiss(*, actor: Actor, organization, alert_id: int) -> Alert:
    alert = Alert.objects.filter(organization=organization, pk=alert_id).first()
    if alert is None:
        raise NotFound("No such alert.")
    if alert.dismissed_at is None:
        alert.dismissed_at = timezone.now()
        alert.save(update_fields=["dismissed_at"])
        audit_record(
            actor=actor,
            action="deliverability.alert_dismiss",
            organization=organization,
            obj=alert.domain,
            data={"key": alert.key},
        )
    return alert
