"""Portal pages: a domain's senders as the DMARC/TLS reports tell, and a report upload form. Thin."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from mailherd.core.errors import MailherdError
from mailherd.deliverability import alerts, charts, selectors, services
from mailherd.deliverability.models import Report
from mailherd.hosting.selectors import domain_get
from mailherd.operator.selectors import feature_view
from mailherd.portal.base import org_view, portal_context, run_service
from mailherd.tenancy.selectors import can_manage_hosting

PERIODS = [7, 30, 90, 365]


def _domain(request, name):
    domain = domain_get(organization=request.organization, name=name)
    if domain is None:
        raise Http404
    return domain


@org_view
@feature_view("email_hosting")
@require_GET
def domain_page(request, name):
    domain = _domain(request, name)
    try:
        days = int(request.GET.get("days", selectors.window_days_default()))
    except ValueError:
        days = selectors.window_days_default()
    days = min(max(days, 1), 366)
    summary = selectors.dmarc_summary(domain=domain, days=days)
    return render(
        request,
        "deliverability/domain.html",
        portal_context(
            request,
            nav="domains",
            deliverability_page=True,  # its alerts are shown in place, with their buttons
            domain=domain,
            summary=summary,
            chart=charts.daily_chart(summary.per_day),
            chart_narrow=charts.daily_chart(summary.per_day, width=charts.NARROW_WIDTH),
            periods=PERIODS,
            tls=selectors.tls_summary(domain=domain, days=days),
            reports=selectors.report_list(domain=domain, limit=10),
            refusals=selectors.refusal_list(domain=domain),
            can_change=can_manage_hosting(request.membership),
            max_mb=services.max_report_bytes() // 1_000_000,
            alerts=selectors.alert_list_open(organization=request.organization, domain=domain),
        ),
    )


@org_view
@feature_view("email_hosting")
@require_POST
def report_upload(request, name):
    domain = _domain(request, name)
    back = reverse(
        "deliverability:domain", kwargs={"org_slug": request.organization.slug, "name": domain.name}
    )
    if not can_manage_hosting(request.membership):
        raise Http404
    files = request.FILES.getlist("file")
    if not files:
        messages.error(request, "Choose one or more report files to upload.")
        return redirect(back)
    taken = duplicates = 0
    for upload in files[:50]:
        if upload.size > services.max_report_bytes():
            try:
                services.report_refuse_too_large(
                    domain=domain,
                    size=upload.size,
                    received_via=Report.Source.PORTAL,
                    filename=upload.name,
                )
            except MailherdError as exc:
                messages.error(request, f"{upload.name}: {exc.message}")
            continue
        try:
            result = services.report_ingest(
                actor=request.actor,
                domain=domain,
                data=upload.read(),
                received_via=Report.Source.PORTAL,
                filename=upload.name,
            )
        except MailherdError as exc:
            messages.error(request, f"{upload.name}: {exc.message}")
            continue
        if result.duplicate:
            duplicates += 1
        else:
            taken += 1
    if taken:
        messages.success(request, f"{taken} report{'s' if taken != 1 else ''} added.")
    if duplicates:
        messages.info(
            request,
            f"{duplicates} report{'s were' if duplicates != 1 else ' was'} already here; counted once.",
        )
    return redirect(back)


@org_view
@feature_view("email_hosting")
@require_POST
def proposal_apply(request, name):
    domain = _domain(request, name)
    if not can_manage_hosting(request.membership):
        raise Http404
    proposal = run_service(
        request, None, lambda: services.dmarc_proposal_apply(actor=request.actor, domain=domain)
    )
    if proposal is not None:
        step = f"p={proposal.next_policy}" + (
            f"; pct={proposal.next_pct}" if proposal.next_pct < 100 else ""
        )
        messages.success(
            request, f"DMARC moves to {step}. Publish the new record shown on the DNS page."
        )
    return redirect(
        reverse(
            "deliverability:domain",
            kwargs={"org_slug": request.organization.slug, "name": domain.name},
        )
    )


@org_view
@feature_view("email_hosting")
@require_POST
def alert_dismiss(request, name, alert_id):
    domain = _domain(request, name)
    if not can_manage_hosting(request.membership):
        raise Http404
    run_service(
        request,
        None,
        lambda: alerts.alert_dismiss(
            actor=request.actor, organization=request.organization, alert_id=alert_id
        ),
    )
    return redirect(
        reverse(
            "deliverability:domain",
            kwargs={"org_slug": request.organization.slug, "name": domain.name},
        )
        + "#alerts"
    )
