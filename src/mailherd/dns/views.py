"""Portal pages for a domain's DNS, and the public mail-client set-up endpoints. Thin: selectors and services."""

import re
import uuid
from datetime import datetime, time

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mailherd.core.errors import MailherdError, NotFound
from mailherd.dns import selectors, services
from mailherd.dns.models import DmarcPolicyChoice, DnsCheck, DnsProviderAccount, DnsSettings
from mailherd.dns.records import domain_records, normalize_name, zone_file
from mailherd.hosting.models import Domain, Mailbox
from mailherd.portal.base import org_view, portal_context
from mailherd.tenancy.selectors import can_manage_hosting


def product_name(request) -> str:
    """The operator's product name, as the branding context processor gives it."""
    try:
        from mailherd.core.context_processors import branding

        return branding(request).get("product_name") or settings.MAILHERD_PRODUCT_NAME
    except Exception:  # branding is optional: never break a client's set-up over it
        return settings.MAILHERD_PRODUCT_NAME


def _domain(request, name) -> Domain:
    try:
        return selectors.domain_get(organization=request.organization, name=name)
    except NotFound:
        raise Http404


def _can_change(request) -> bool:
    return can_manage_hosting(request.membership)


def _back(request, domain, anchor=""):
    return redirect(
        reverse("dns:records", kwargs={"org_slug": request.organization.slug, "name": domain.name})
        + anchor
    )


def _autosetup(request) -> bool:
    from mailherd.plans.models import Feature

    return request.organization.plan.has_feature(Feature.DNS_AUTOSETUP)


def _autosetup_refused(request):
    """The plan lacks `dns_autosetup`: say so (403) instead of offering provider access."""
    from mailherd.tenancy.selectors import can_manage_billing

    return render(
        request,
        "dns/autosetup_not_in_plan.html",
        portal_context(
            request,
            nav="domains",
            can_upgrade=can_manage_billing(request.membership),
            # saved before a downgrade: still listed, so their credentials can be removed
            accounts=selectors.provider_account_list(organization=request.organization),
            can_change=_can_change(request),
        ),
        status=403,
    )


def _records_context(request, domain, **extra) -> dict:
    from mailherd.tenancy.selectors import can_manage_billing

    extra.setdefault("autosetup", _autosetup(request))
    extra.setdefault("can_upgrade", can_manage_billing(request.membership))
    records = domain_records(domain)
    latest = selectors.dns_check_latest(domain=domain)
    return portal_context(
        request,
        domain=domain,
        records=records,
        rows=selectors.record_rows(records=records, check=latest),
        latest_check=latest,
        can_change=_can_change(request),
        nav="domains",
        **extra,
    )


def _dmarc_proposal(domain):
    """What the DMARC reports say about tightening (deliverability), for the schedule card."""
    from mailherd.deliverability.selectors import dmarc_summary

    return dmarc_summary(domain=domain).proposal


@org_view
@require_GET
def records_page(request, name):
    domain = _domain(request, name)
    dns_settings = selectors.dns_settings_for(domain=domain)
    context = _records_context(
        request,
        domain,
        history=selectors.dns_check_history(domain=domain, limit=10),
        regressions=list(
            selectors.dns_regression_list(organization=request.organization, domain=domain)
        ),
        dns_settings=dns_settings,
        dmarc_rua=dns_settings.dmarc_rua_address(domain),
        stages=list(selectors.dmarc_stage_list(domain=domain)),
        dmarc_proposal=_dmarc_proposal(domain),
        accounts=list(selectors.provider_account_list(organization=request.organization)),
        policy_choices=DmarcPolicyChoice.choices,
        mta_sts_choices=DnsSettings.MtaSts.choices,
        mailboxes=list(
            Mailbox.objects.filter(organization=request.organization, domain=domain).values_list(
                "address", flat=True
            )
        ),
    )
    return render(request, "dns/records.html", context)


@org_view
@require_POST
def check_now(request, name):
    domain = _domain(request, name)
    if not domain.is_verified:
        messages.error(
            request, "Verify the domain first; its records are checked once it is yours."
        )
    else:
        try:
            services.domain_check(domain=domain, trigger=DnsCheck.Trigger.MANUAL)
        except NotFound:  # removed meanwhile
            raise Http404 from None
    if request.htmx:
        return render(request, "dns/_records.html", _records_context(request, domain))
    return _back(request, domain)


@org_view
@require_GET
def zone_export(request, name):
    domain = _domain(request, name)
    text = zone_file(domain.name, domain_records(domain), product_name=product_name(request))
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{domain.name}.zone"'
    return response


def _run(request, call) -> bool:
    try:
        call()
        return True
    except MailherdError as exc:
        messages.error(request, exc.message)
        return False


@org_view
@require_POST
def settings_update(request, name):
    domain = _domain(request, name)
    if not _can_change(request):
        raise Http404
    post = request.POST
    if _run(
        request,
        lambda: services.dns_settings_update(
            actor=request.actor,
            domain=domain,
            dmarc_rua=post.get("dmarc_rua"),
            spf_include=post.get("spf_include"),
            mta_sts_mode=post.get("mta_sts_mode"),
            tls_rpt_rua=post.get("tls_rpt_rua"),
            dmarc_policy=post.get("dmarc_policy") or None,
            dmarc_pct=int(post["dmarc_pct"]) if post.get("dmarc_pct", "").isdigit() else None,
        ),
    ):
        messages.success(request, "Saved. Update the records marked below at your DNS provider.")
    return _back(request, domain, "#records")


@org_view
@require_POST
def dmarc_schedule(request, name):
    domain = _domain(request, name)
    if not _can_change(request):
        raise Http404
    now = timezone.now()
    if request.POST.get("recommended"):
        stages = services.dmarc_schedule_recommended(now=now)
    else:
        stages = []
        for policy, pct, day in zip(
            request.POST.getlist("policy"),
            request.POST.getlist("pct"),
            request.POST.getlist("date"),
            strict=False,  # a form with a missing field gives fewer values: ignore the rest
        ):
            if not (policy and day):
                continue
            try:
                starts = timezone.make_aware(
                    datetime.combine(datetime.fromisoformat(day).date(), time(9, 0))
                )
            except ValueError:
                messages.error(request, f"{day} is not a date.")
                return _back(request, domain, "#dmarc")
            stages.append(services.StagePlan(policy, int(pct) if pct.isdigit() else 100, starts))
    if _run(
        request,
        lambda: services.dmarc_schedule_set(actor=request.actor, domain=domain, stages=stages),
    ):
        messages.success(request, "DMARC schedule saved." if stages else "DMARC schedule cleared.")
    return _back(request, domain, "#dmarc")


@org_view
@require_POST
def regression_dismiss(request, name, regression_id):
    domain = _domain(request, name)
    _run(
        request,
        lambda: services.dns_regression_dismiss(
            actor=request.actor, organization=request.organization, regression_id=regression_id
        ),
    )
    return _back(request, domain)


@org_view
@require_POST
def provider_link(request, name):
    domain = _domain(request, name)
    if not _autosetup(request):
        return _autosetup_refused(request)
    if not _can_change(request):
        raise Http404
    account_id = request.POST.get("account")
    _run(
        request,
        lambda: services.dns_provider_link(
            actor=request.actor,
            domain=domain,
            account_id=int(account_id) if (account_id or "").isdigit() else None,
        ),
    )
    return _back(request, domain, "#automatic")


@org_view
@require_http_methods(["GET", "POST"])
def push(request, name):
    """GET: the changes the push would make. POST: apply exactly those (the fingerprint proves it)."""
    domain = _domain(request, name)
    if not _autosetup(request):
        return _autosetup_refused(request)
    if not _can_change(request):
        raise Http404
    if request.method == "POST" and _run(
        request,
        lambda: services.dns_push_apply(
            actor=request.actor,
            domain=domain,
            confirmed_fingerprint=request.POST.get("fingerprint", ""),
        ),
    ):
        services.domain_check(domain=domain, trigger=DnsCheck.Trigger.MANUAL)
        messages.success(
            request,
            "Your DNS provider has the records now. The check below shows what DNS answers.",
        )
        return _back(request, domain)
    changes, fingerprint, error = [], "", ""
    try:
        changes, fingerprint = services.dns_push_plan(domain=domain)
    except MailherdError as exc:
        error = exc.message
    return render(
        request,
        "dns/push.html",
        portal_context(
            request,
            domain=domain,
            changes=changes,
            fingerprint=fingerprint,
            error=error,
            nav="domains",
            pending=[c for c in changes if c.action != "keep"],
        ),
    )


@org_view
@require_http_methods(["GET", "POST"])
def provider_accounts(request):
    if not _autosetup(request):
        return _autosetup_refused(request)
    can_change = _can_change(request)
    if request.method == "POST" and can_change:
        provider = request.POST.get("provider", "")
        options = {k[4:]: v for k, v in request.POST.items() if k.startswith("opt_")}
        if _run(
            request,
            lambda: services.dns_provider_account_create(
                actor=request.actor,
                organization=request.organization,
                name=request.POST.get("name", ""),
                provider=provider,
                options=options,
            ),
        ):
            messages.success(request, "DNS provider saved. Its credentials are stored encrypted.")
            return redirect("dns:providers", org_slug=request.organization.slug)
    return render(
        request,
        "dns/providers.html",
        portal_context(
            request,
            accounts=selectors.provider_account_list(organization=request.organization),
            can_change=can_change,
            provider_choices=[
                (value, label)
                for value, label in DnsProviderAccount.Provider.choices
                if value in services.PROVIDER_FIELDS
            ],
            provider_fields=services.PROVIDER_FIELDS,
            secret_fields=services.SECRET_FIELDS,
            nav="domains",
        ),
    )


@org_view
@require_POST
def provider_delete(request, account_id):
    if _can_change(request):
        _run(
            request,
            lambda: services.dns_provider_account_delete(
                actor=request.actor, organization=request.organization, account_id=account_id
            ),
        )
    return redirect("dns:providers", org_slug=request.organization.slug)


# --- mail client set-up (public: the autoconfig/autodiscover CNAMEs point here) --------------


def _setup_domain(domain_name: str) -> Domain:
    try:
        name = normalize_name(domain_name)
    except MailherdError:
        raise Http404
    domain = (
        Domain.objects.select_related("mail_server")
        .filter(name=name, verified_at__isnull=False, mail_server__isnull=False)
        .first()
    )
    if domain is None:
        raise Http404
    return domain


def _server_context(request, domain, email: str = "") -> dict:
    from mailherd.mailcow.selectors import client_endpoints

    endpoints = client_endpoints(domain.mail_server)
    return {
        "product_name": product_name(request),
        "domain": domain,
        "email": email,
        "imap_host": endpoints.imap_host,
        "imap_port": endpoints.imap_port,
        "pop3_host": endpoints.pop3_host,
        "pop3_port": endpoints.pop3_port,
        "smtp_host": endpoints.smtp_host,
        "smtp_port": endpoints.smtp_port,
        "smtp_ssl": endpoints.smtp_ssl,
        "imap_ssl": endpoints.imap_ssl,
        "pop3_ssl": endpoints.pop3_ssl,
        "webmail_url": endpoints.webmail_url,
        # Single sign-on mailboxes have no password: mail apps need an app password.
        "app_password_needed": _uses_app_passwords(domain, email),
    }


def _uses_app_passwords(domain, email: str) -> bool:
    from mailherd.webmail.selectors import organization_webmail

    mailbox = (
        Mailbox.objects.filter(address=(email or "").strip().lower(), domain=domain)
        .only("sso")
        .first()
    )
    if mailbox is not None:
        return mailbox.sso
    return organization_webmail(domain.organization).sign_in_mode == "sso"


def _email_domain(value: str) -> str:
    return value.rpartition("@")[2] if "@" in value else ""


@require_GET
def autoconfig(request):
    """Thunderbird autoconfig: ?emailaddress=, else the autoconfig.<domain> host it was asked on."""
    email = request.GET.get("emailaddress", "").strip()
    domain_name = _email_domain(email)
    if not domain_name:
        host = request.get_host().split(":")[0].lower()
        if not host.startswith("autoconfig."):
            raise Http404
        domain_name = host.removeprefix("autoconfig.")
    context = _server_context(request, _setup_domain(domain_name), email)
    return render(
        request, "dns/autoconfig.xml", context, content_type="application/xml; charset=utf-8"
    )


@csrf_exempt  # Outlook POSTs an XML request without a session
@require_http_methods(["GET", "POST"])
def autodiscover(request):
    """Outlook's POX autodiscover: the request body names the EMailAddress."""
    body = request.body.decode("utf-8", errors="replace")[:10000]
    match = re.search(r"<EMailAddress>\s*([^<\s]+)\s*</EMailAddress>", body, re.IGNORECASE)
    email = match.group(1) if match else request.GET.get("email", "")
    domain_name = _email_domain(email)
    if not domain_name:
        host = request.get_host().split(":")[0].lower()
        domain_name = host.removeprefix("autodiscover.") if host.startswith("autodiscover.") else ""
    if not domain_name:
        raise Http404
    context = _server_context(request, _setup_domain(domain_name), email)
    return render(
        request, "dns/autodiscover.xml", context, content_type="application/xml; charset=utf-8"
    )


@org_view
@require_GET
def mobileconfig(request, address):
    """An Apple configuration profile for one mailbox (no password in it: the device asks)."""
    mailbox = (
        Mailbox.objects.select_related("domain__mail_server")
        .filter(organization=request.organization, address=address.lower())
        .first()
    )
    if mailbox is None or mailbox.domain.mail_server is None:
        raise Http404
    context = _server_context(request, mailbox.domain, mailbox.address)
    # Stable identifiers: re-installing replaces the profile instead of adding a second one.
    context.update(
        mailbox=mailbox,
        display_name=mailbox.name or mailbox.address,
        profile_uuid=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"profile.{mailbox.address}")).upper(),
        payload_uuid=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"mail.{mailbox.address}")).upper(),
        identifier=".".join(reversed(mailbox.domain.name.split(".")))
        + ".mail."
        + mailbox.local_part,
    )
    response = render(
        request, "dns/mobileconfig.xml", context, content_type="application/x-apple-aspen-config"
    )
    response["Content-Disposition"] = f'attachment; filename="{mailbox.address}.mobileconfig"'
    return response


@require_GET
def mta_sts_policy(request):
    """/.well-known/mta-sts.txt on mta-sts.<domain> (RFC 8461)."""
    host = request.get_host().split(":")[0].lower()
    if not host.startswith("mta-sts."):
        raise Http404
    domain = _setup_domain(host.removeprefix("mta-sts."))
    dns_settings = selectors.dns_settings_for(domain=domain)
    if dns_settings.mta_sts_mode == DnsSettings.MtaSts.OFF:
        raise Http404
    body = (
        "\r\n".join(
            [
                "version: STSv1",
                f"mode: {dns_settings.mta_sts_mode}",
                f"mx: {domain.mail_server.public_host}",
                "max_age: " + ("604800" if dns_settings.mta_sts_mode == "enforce" else "86400"),
            ]
        )
        + "\r\n"
    )
    return HttpResponse(body, content_type="text/plain; charset=utf-8")
