"""Portal pages for Mailcow's deeper settings: sending limits (thin, over the services)."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from mailherd.hosting.forms import RateLimitForm
from mailherd.hosting.services.ratelimits import domain_rate_limit_set, mailbox_rate_limit_set
from mailherd.hosting.views import _can_change, _domain_or_404, _mailbox_or_404, hosting_view
from mailherd.portal.base import run_service


def _form_errors(request, form) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


@require_POST
@hosting_view
def mailbox_rate_limit(request, address):
    mailbox = _mailbox_or_404(request, address)
    form = RateLimitForm(request.POST)
    if _can_change(request):
        if not form.is_valid():
            _form_errors(request, form)
        elif run_service(
            request,
            None,
            lambda: mailbox_rate_limit_set(
                actor=request.actor,
                organization=request.organization,
                address=mailbox.address,
                rate_limit=form.rate_limit(),
            ),
        ):
            messages.success(request, "Sending limit saved.")
    return redirect(
        "hosting:mailbox_detail", org_slug=request.organization.slug, address=mailbox.address
    )


@require_POST
@hosting_view
def domain_rate_limit(request, name):
    domain = _domain_or_404(request, name)
    form = RateLimitForm(request.POST)
    if _can_change(request):
        if not form.is_valid():
            _form_errors(request, form)
        elif run_service(
            request,
            None,
            lambda: domain_rate_limit_set(
                actor=request.actor,
                organization=request.organization,
                name=domain.name,
                rate_limit=form.rate_limit(),
            ),
        ):
            messages.success(request, "Sending limit saved.")
    return redirect("hosting:domain_detail", org_slug=request.organization.slug, name=domain.name)


def _domain_action(request, name, change, success: str):
    """Run `change(domain)` for someone who may change hosting; say `success`; back to the page."""
    domain = _domain_or_404(request, name)
    if _can_change(request) and run_service(request, None, lambda: change(domain)):
        messages.success(request, success)
    return redirect("hosting:domain_detail", org_slug=request.organization.slug, name=domain.name)


@require_POST
@hosting_view
def domain_relay(request, name):
    from mailherd.hosting.services.relays import domain_relay_set

    return _domain_action(
        request,
        name,
        lambda domain: domain_relay_set(
            actor=request.actor,
            organization=request.organization,
            name=domain.name,
            relay=request.POST.get("relay") or None,
        ),
        "Saved. Publish the records below for the new smarthost.",
    )


@require_POST
@hosting_view
def domain_dkim_rotate(request, name):
    from mailherd.hosting.services.dkim_rotation import dkim_rotation_start

    return _domain_action(
        request,
        name,
        lambda domain: dkim_rotation_start(
            actor=request.actor, organization=request.organization, name=domain.name
        ),
        "A new DKIM key is ready: publish its record (below).",
    )


@require_POST
@hosting_view
def domain_dkim_cancel(request, name):
    from mailherd.hosting.services.dkim_rotation import dkim_rotation_cancel

    return _domain_action(
        request,
        name,
        lambda domain: dkim_rotation_cancel(
            actor=request.actor, organization=request.organization, name=domain.name
        ),
        "The key change is cancelled; the current key stays.",
    )


# -- quarantine ------------------------------------------------------------------


@hosting_view
def quarantine_page(request):
    from django.shortcuts import render

    from mailherd.core.errors import MailherdError
    from mailherd.hosting import quarantine
    from mailherd.portal.base import portal_context
    from mailherd.tenancy.selectors import can_manage_hosting

    mailbox = request.GET.get("mailbox", "").strip()
    try:
        held, error = (
            quarantine.quarantine_list(organization=request.organization, mailbox=mailbox or None),
            "",
        )
    except MailherdError as exc:
        held, error = [], exc.message
    return render(
        request,
        "hosting/quarantine.html",
        portal_context(
            request,
            held=held,
            error=error,
            mailbox=mailbox,
            nav="quarantine",
            can_change=can_manage_hosting(request.membership),
        ),
    )


@hosting_view
def quarantine_detail(request, item_id):
    from django.http import Http404
    from django.shortcuts import render

    from mailherd.core.errors import NotFound
    from mailherd.hosting import quarantine
    from mailherd.portal.base import portal_context
    from mailherd.tenancy.selectors import can_manage_hosting

    try:
        message = quarantine.quarantine_preview(organization=request.organization, item_id=item_id)
    except NotFound:
        raise Http404 from None
    return render(
        request,
        "hosting/quarantine_detail.html",
        portal_context(
            request,
            message=message,
            nav="quarantine",
            can_change=can_manage_hosting(request.membership),
        ),
    )


@require_POST
@hosting_view
def quarantine_action(request, item_id):
    from django.http import Http404

    from mailherd.core.errors import NotFound
    from mailherd.hosting import quarantine

    action = request.POST.get("action")
    if _can_change(request):
        try:
            if action in ("release", "learn_ham"):
                quarantine.quarantine_release(
                    actor=request.actor,
                    organization=request.organization,
                    item_id=item_id,
                    learn_ham=action == "learn_ham",
                )
                messages.success(request, "The message is being delivered to its recipient.")
            elif action == "delete":
                quarantine.quarantine_delete(
                    actor=request.actor, organization=request.organization, item_id=item_id
                )
                messages.success(request, "The message is being deleted.")
            else:
                messages.error(request, "Choose release or delete.")
        except NotFound:
            raise Http404 from None
        except Exception as exc:  # noqa: BLE001 - a MailherdError shown as is; nothing else is expected
            from mailherd.core.errors import MailherdError

            if not isinstance(exc, MailherdError):
                raise
            messages.error(request, exc.message)
    return redirect("hosting:quarantine", org_slug=request.organization.slug)


# -- IMAP migration -----------------------------------------------------------------


def _imports_context(request, **extra):
    from mailherd.hosting.forms import SyncJobForm
    from mailherd.hosting.selectors import mailbox_list, sync_job_list
    from mailherd.plans.models import Feature
    from mailherd.portal.base import portal_context
    from mailherd.tenancy.selectors import can_manage_hosting

    mailboxes = list(mailbox_list(organization=request.organization))
    return portal_context(
        request,
        jobs=sync_job_list(organization=request.organization),
        form=extra.pop("form", None) or SyncJobForm(mailboxes=mailboxes),
        allowed=request.organization.plan.has_feature(Feature.IMAP_MIGRATION),
        nav="imports",
        can_change=can_manage_hosting(request.membership),
        **extra,
    )


@hosting_view
def imports_page(request):
    from django.shortcuts import render

    from mailherd.hosting.forms import SyncJobForm
    from mailherd.hosting.selectors import mailbox_list
    from mailherd.hosting.services.syncjobs import SourceMailbox, sync_job_create

    form = None
    if request.method == "POST" and _can_change(request):
        form = SyncJobForm(
            request.POST, mailboxes=list(mailbox_list(organization=request.organization))
        )
        if form.is_valid():
            data = form.cleaned_data
            job = run_service(
                request,
                form,
                lambda: sync_job_create(
                    actor=request.actor,
                    organization=request.organization,
                    source=SourceMailbox(
                        mailbox=data["mailbox"],
                        host=data["host"],
                        port=data["port"],
                        security=data["security"],
                        user=data["user"],
                        password=data["password"],
                    ),
                ),
            )
            if job:
                messages.success(
                    request,
                    f"Signed in to {job.host}. The import into {job.mailbox.address} starts shortly.",
                )
                return redirect("hosting:imports", org_slug=request.organization.slug)
    return render(request, "hosting/imports.html", _imports_context(request, form=form))


@require_POST
@hosting_view
def imports_csv(request):
    from django.shortcuts import render

    from mailherd.hosting.services.syncjobs import sync_job_create_from_csv

    outcomes = None
    upload = request.FILES.get("file")
    if _can_change(request):
        if upload is None:
            messages.error(request, "Choose a CSV file to upload.")
        elif upload.size > 1_000_000:
            messages.error(request, "The file is larger than 1 MB; split it.")
        else:
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                messages.error(request, "The file is not UTF-8 text.")
            else:
                outcomes = run_service(
                    request,
                    None,
                    lambda: sync_job_create_from_csv(
                        actor=request.actor, organization=request.organization, text=text
                    ),
                )
    if outcomes is None:
        return redirect("hosting:imports", org_slug=request.organization.slug)
    return render(request, "hosting/imports.html", _imports_context(request, outcomes=outcomes))


@hosting_view
def import_detail(request, job_id):
    from django.http import Http404
    from django.shortcuts import render

    from mailherd.hosting.selectors import sync_job_get
    from mailherd.hosting.services.syncjobs import (
        sync_job_delete,
        sync_job_refresh,
        sync_job_set_active,
    )
    from mailherd.portal.base import portal_context
    from mailherd.tenancy.selectors import can_manage_hosting

    job = sync_job_get(organization=request.organization, job_id=job_id)
    if job is None:
        raise Http404
    if request.method == "POST" and _can_change(request):
        action = request.POST.get("action")
        if action == "delete":
            if run_service(
                request,
                None,
                lambda: (
                    sync_job_delete(
                        actor=request.actor, organization=request.organization, job_id=job.pk
                    )
                    or True
                ),
            ):
                messages.success(request, "Import deleted; the old password is forgotten.")
                return redirect("hosting:imports", org_slug=request.organization.slug)
        elif action in ("stop", "start") and run_service(
            request,
            None,
            lambda: sync_job_set_active(
                actor=request.actor,
                organization=request.organization,
                job_id=job.pk,
                active=action == "start",
            ),
        ):
            messages.success(request, "Import stopped." if action == "stop" else "Import resumed.")
        return redirect("hosting:import_detail", org_slug=request.organization.slug, job_id=job.pk)
    job = sync_job_refresh(job=job)
    return render(
        request,
        "hosting/import_detail.html",
        portal_context(
            request, job=job, nav="imports", can_change=can_manage_hosting(request.membership)
        ),
    )


@require_POST
@hosting_view
def mailbox_spam(request, address):
    from mailherd.core.errors import ValidationFailed
    from mailherd.hosting.services.spam import mailbox_spam_settings_set

    mailbox = _mailbox_or_404(request, address)
    low, high = request.POST.get("low", "").strip(), request.POST.get("high", "").strip()

    def save():
        if bool(low) != bool(high):
            raise ValidationFailed("Give both scores, or neither for the server's usual thresholds.")
        return mailbox_spam_settings_set(
            actor=request.actor,
            organization=request.organization,
            address=mailbox.address,
            quarantine_notification=request.POST.get("quarantine_notification", ""),
            quarantine_category=request.POST.get("quarantine_category", ""),
            spam_score={"low": low, "high": high} if low else None,
        )

    if _can_change(request) and run_service(request, None, save):
        messages.success(request, "Spam settings saved.")
    return redirect(
        "hosting:mailbox_detail", org_slug=request.organization.slug, address=mailbox.address
    )
