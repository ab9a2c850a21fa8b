"""Portal pages for domains, mailboxes and aliases: thin, over selectors and services."""

import csv
import io
import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mailherd.core.crypto import decrypt, encrypt
from mailherd.core.errors import DomainNotVerified, MailherdError
from mailherd.dns.records import domain_records
from mailherd.hosting import selectors, services
from mailherd.hosting.forms import (
    AliasForm,
    DomainDeleteForm,
    DomainForm,
    MailboxCreateForm,
    MailboxEditForm,
    MailboxImportForm,
    PasswordForm,
)
from mailherd.hosting.services import imports as mailbox_imports
from mailherd.mailcow.selectors import client_endpoints
from mailherd.operator.selectors import feature_view
from mailherd.plans.selectors import organization_usage
from mailherd.portal.base import org_view, portal_context, run_service
from mailherd.tenancy.selectors import can_manage_billing, can_manage_hosting, owner_emails
from mailherd.webmail.portal_views import mailbox_card_context

PAGE_SIZE = 25


def hosting_view(view):
    """An organization page that exists only while email hosting is switched on."""
    return org_view(feature_view("email_hosting")(view))


def _can_change(request) -> bool:
    if can_manage_hosting(request.membership):
        return True
    messages.error(request, "Only owners and admins can change mail settings.")
    return False


def _limit_context(request, name: str) -> dict:
    """What the limit note next to a "New …" button needs: usage, and who can raise the limit."""
    usage = organization_usage(organization=request.organization)[name]
    return {
        "limit": usage,
        "at_limit": usage.left <= 0,
        "can_upgrade": can_manage_billing(request.membership),
        "owners": owner_emails(organization=request.organization),
    }


def _domain_or_404(request, name):
    domain = selectors.domain_get(organization=request.organization, name=name)
    if domain is None:
        raise Http404
    return domain


# -- domains -------------------------------------------------------------------


@hosting_view
def domain_list(request):
    form = DomainForm(request.POST or None)
    if request.method == "POST" and _can_change(request) and form.is_valid():
        domain = run_service(
            request,
            form,
            lambda: services.domain_add(
                actor=request.actor,
                organization=request.organization,
                name=form.cleaned_data["name"],
            ),
        )
        if domain:
            messages.success(
                request, f"{domain.unicode_name} added. Publish its TXT record to verify it."
            )
            return redirect(
                "hosting:domain_detail", org_slug=request.organization.slug, name=domain.name
            )
    domains = selectors.domain_list_with_counts(organization=request.organization)
    return render(
        request,
        "hosting/domain_list.html",
        portal_context(
            request,
            form=form,
            domains=domains,
            nav="domains",
            can_change=can_manage_hosting(request.membership),
        ),
    )


@hosting_view
def domain_detail(request, name):
    domain = _domain_or_404(request, name)
    context = portal_context(
        request,
        domain=domain,
        records=domain_records(domain),
        verification={"relative": domain.verification_record_name.removesuffix("." + domain.name)},
        delete_form=DomainDeleteForm(),
        nav="domains",
        mailbox_count=domain.mailboxes.count(),
        alias_count=domain.aliases.count(),
        can_change=can_manage_hosting(request.membership),
        **_limit_context(request, "mailboxes"),
    )
    return render(request, "hosting/domain_detail.html", context)


@require_POST
@hosting_view
def domain_verify(request, name):
    domain = _domain_or_404(request, name)
    if _can_change(request):
        try:
            done = services.domain_verify(actor=request.actor, domain=domain)
        except DomainNotVerified:
            done = None  # the page shows the outcome of the check, once, next to the record
        except MailherdError as exc:
            done = None
            messages.error(request, exc.message)
        if done:
            messages.success(
                request,
                f"{domain.unicode_name} is verified. It is being set up on the mail server.",
            )
    return redirect("hosting:domain_detail", org_slug=request.organization.slug, name=domain.name)


@require_POST
@hosting_view
def domain_delete(request, name):
    domain = _domain_or_404(request, name)
    form = DomainDeleteForm(request.POST)
    if _can_change(request) and form.is_valid():
        done = run_service(
            request,
            None,
            lambda: (
                services.domain_delete(
                    actor=request.actor,
                    organization=request.organization,
                    name=domain.name,
                    confirm=form.cleaned_data["confirm"],
                )
                or True
            ),
        )
        if done:
            messages.success(
                request, f"{domain.unicode_name} and its mailboxes and aliases are being removed."
            )
            return redirect("hosting:domain_list", org_slug=request.organization.slug)
    return redirect("hosting:domain_detail", org_slug=request.organization.slug, name=domain.name)


# -- mailboxes -----------------------------------------------------------------


@hosting_view
def mailbox_list(request):
    return _filtered_list(
        request,
        selectors.mailbox_list,
        "hosting/mailbox_list.html",
        "mailboxes",
        **_limit_context(request, "mailboxes"),
    )


def _filtered_list(request, select, template: str, noun: str, **extra):
    """One rendering of a searchable, paginated list: the page, or just its rows for htmx."""
    domain = request.GET.get("domain", "")
    search = request.GET.get("q", "")
    queryset = select(organization=request.organization, domain=domain, search=search)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    context = portal_context(
        request,
        page=page,
        domain_filter=domain,
        search=search,
        nav=noun,
        domains=selectors.domain_list(organization=request.organization),
        can_change=can_manage_hosting(request.membership),
        **{noun: page.object_list},
        **extra,
    )
    return render(request, f"{template}#rows" if request.htmx else template, context)


@hosting_view
def mailbox_create(request):
    domains = [
        d
        for d in selectors.domain_list(organization=request.organization)
        if d.is_verified and not d.alias_of_id  # alias domains hold no mailboxes of their own
    ]
    form = MailboxCreateForm(
        request.POST or None, domains=domains, initial={"domain": request.GET.get("domain")}
    )
    if request.method == "POST" and _can_change(request) and form.is_valid():
        data = form.cleaned_data
        created = run_service(
            request,
            form,
            fields={"address": "local_part"},
            call=lambda: services.mailbox_create(
                actor=request.actor,
                organization=request.organization,
                address=f"{data['local_part'].strip()}@{data['domain']}",
                password=data["password"] or None,
                quota_mb=data["quota_mb"],
                name=data["name"],
            ),
        )
        if created:
            mailbox, password = created
            if not data["password"]:
                request.session["shown_once_password"] = {
                    "address": mailbox.address,
                    "password": password,
                }
            messages.success(request, f"Mailbox {mailbox.address} created.")
            return redirect(
                "hosting:mailbox_detail",
                org_slug=request.organization.slug,
                address=mailbox.address,
            )
    return render(
        request,
        "hosting/mailbox_create.html",
        portal_context(
            request,
            form=form,
            domains=domains,
            nav="mailboxes",
            storage=organization_usage(organization=request.organization)["storage_mb"],
            **_limit_context(request, "mailboxes"),
        ),
    )


def _mailbox_or_404(request, address):
    mailbox = selectors.mailbox_get(organization=request.organization, address=address)
    if mailbox is None:
        raise Http404
    return mailbox


@hosting_view
def mailbox_detail(request, address):
    mailbox = _mailbox_or_404(request, address)
    form = MailboxEditForm(
        request.POST or None,
        initial={"name": mailbox.name, "quota_mb": mailbox.quota_mb, "enabled": mailbox.enabled},
    )
    if mailbox.is_system:  # the platform sets a platform address's size (the service refuses a change)
        form.fields["quota_mb"].disabled = True
        form.fields["quota_mb"].help_text = "Set by the platform for its addresses."
    if request.method == "POST" and _can_change(request) and form.is_valid():
        data = form.cleaned_data
        done = run_service(
            request,
            form,
            lambda: services.mailbox_update(
                actor=request.actor,
                organization=request.organization,
                address=mailbox.address,
                name=data["name"],
                quota_mb=data["quota_mb"],
                enabled=data["enabled"],
            ),
        )
        if done:
            messages.success(request, "Mailbox saved.")
            return redirect(
                "hosting:mailbox_detail",
                org_slug=request.organization.slug,
                address=mailbox.address,
            )
    shown = request.session.pop("shown_once_password", None)
    password = shown["password"] if shown and shown["address"] == mailbox.address else None
    context = portal_context(
        request,
        mailbox=mailbox,
        form=form,
        password_form=PasswordForm(),
        new_password=password,
        nav="mailboxes",
        endpoints=client_endpoints(mailbox.domain.mail_server)
        if mailbox.domain.mail_server
        else None,
        can_change=can_manage_hosting(request.membership),
        webmail=mailbox_card_context(request, mailbox),
    )
    return render(request, "hosting/mailbox_detail.html", context)


@require_POST
@hosting_view
def mailbox_password(request, address):
    mailbox = _mailbox_or_404(request, address)
    form = PasswordForm(request.POST)
    if _can_change(request) and form.is_valid():
        password = form.cleaned_data["password"] or services.mailboxes.generate_password()
        done = run_service(
            request,
            None,
            lambda: services.mailbox_update(
                actor=request.actor,
                organization=request.organization,
                address=mailbox.address,
                password=password,
            ),
        )
        if done:
            if not form.cleaned_data["password"]:
                request.session["shown_once_password"] = {
                    "address": mailbox.address,
                    "password": password,
                }
            messages.success(request, "Password changed.")
    return redirect(
        "hosting:mailbox_detail", org_slug=request.organization.slug, address=mailbox.address
    )


@require_POST
@hosting_view
def mailbox_delete(request, address):
    mailbox = _mailbox_or_404(request, address)
    if _can_change(request):
        if request.POST.get("confirm", "").strip().lower() != mailbox.address:
            messages.error(request, f"Type {mailbox.address} to confirm the deletion.")
            return redirect(
                "hosting:mailbox_detail",
                org_slug=request.organization.slug,
                address=mailbox.address,
            )
        if run_service(
            request,
            None,
            lambda: (
                services.mailbox_delete(
                    actor=request.actor, organization=request.organization, address=mailbox.address
                )
                or True
            ),
        ):
            messages.success(request, f"Mailbox {mailbox.address} and its mail are being deleted.")
    return redirect("hosting:mailbox_list", org_slug=request.organization.slug)


# -- aliases -------------------------------------------------------------------


@hosting_view
def alias_list(request):
    form = AliasForm(request.POST or None)
    if request.method == "POST" and _can_change(request) and form.is_valid():
        data = form.cleaned_data
        alias = run_service(
            request,
            form,
            lambda: services.alias_create(
                actor=request.actor,
                organization=request.organization,
                address=data["address"],
                goto=data["goto"],
                enabled=data["enabled"],
            ),
        )
        if alias:
            messages.success(request, f"Alias {alias.address} created.")
            return redirect("hosting:alias_list", org_slug=request.organization.slug)
    return _filtered_list(
        request, selectors.alias_list, "hosting/alias_list.html", "aliases", form=form
    )


@hosting_view
def alias_detail(request, address):
    alias = selectors.alias_get(organization=request.organization, address=address)
    if alias is None:
        raise Http404
    form = AliasForm(
        request.POST or None,
        initial={"address": alias.address, "goto": "\n".join(alias.goto), "enabled": alias.enabled},
    )
    if request.method == "POST" and _can_change(request) and form.is_valid():
        done = run_service(
            request,
            form,
            lambda: services.alias_update(
                actor=request.actor,
                organization=request.organization,
                address=alias.address,
                goto=form.cleaned_data["goto"],
                enabled=form.cleaned_data["enabled"],
            ),
        )
        if done:
            messages.success(request, "Alias saved.")
            return redirect("hosting:alias_list", org_slug=request.organization.slug)
    return render(
        request,
        "hosting/alias_detail.html",
        portal_context(
            request,
            alias=alias,
            form=form,
            nav="aliases",
            can_change=can_manage_hosting(request.membership),
        ),
    )


@require_POST
@hosting_view
def alias_delete(request, address):
    alias = selectors.alias_get(organization=request.organization, address=address)
    if alias is None:
        raise Http404
    if _can_change(request) and run_service(
        request,
        None,
        lambda: (
            services.alias_delete(
                actor=request.actor, organization=request.organization, address=alias.address
            )
            or True
        ),
    ):
        messages.success(request, f"Alias {alias.address} deleted.")
    return redirect("hosting:alias_list", org_slug=request.organization.slug)


# -- mailbox CSV import and export ----------------------------------------------

IMPORT_SESSION_KEY = "mailbox_import"
IMPORT_MAX_BYTES = 2 * 1024 * 1024


def _import_state(request) -> dict | None:
    """This session's import (rows and results, encrypted: they hold passwords), if it is this org's."""
    sealed = request.session.get(IMPORT_SESSION_KEY)
    if not sealed:
        return None
    state = json.loads(decrypt(sealed))
    return state if state["organization"] == request.organization.pk else None


def _import_save(request, state: dict) -> None:
    request.session[IMPORT_SESSION_KEY] = encrypt(json.dumps(state))


@hosting_view
def mailbox_import(request):
    """Upload a CSV; the rows are then created chunk by chunk with a progress bar."""
    posted = request.method == "POST"
    form = MailboxImportForm(request.POST if posted else None, request.FILES if posted else None)
    if posted and _can_change(request) and form.is_valid():
        upload = form.cleaned_data["file"]
        rows = None
        if upload is None:
            form.add_error("file", "Choose a CSV file to import.")
        elif upload.size > IMPORT_MAX_BYTES:
            form.add_error("file", "The file is larger than 2 MiB; split it into smaller files.")
        else:
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                text = None
                form.add_error("file", "Save the file as CSV with UTF-8 encoding and try again.")
            if text is not None:
                rows = run_service(request, form, lambda: mailbox_imports.mailbox_csv_parse(text))
        if rows:
            _import_save(
                request,
                {"organization": request.organization.pk, "rows": rows, "results": []},
            )
            return redirect("hosting:mailbox_import_progress", org_slug=request.organization.slug)
    return render(
        request,
        "hosting/mailbox_import.html",
        portal_context(
            request,
            form=form,
            nav="mailboxes",
            columns=mailbox_imports.COLUMNS,
            **_limit_context(request, "mailboxes"),
        ),
    )


@hosting_view
def mailbox_import_progress(request):
    """The import's progress; each POST creates the next chunk (htmx posts until it is done)."""
    state = _import_state(request)
    if state is None:
        messages.info(request, "There is no import in progress.")
        return redirect("hosting:mailbox_list", org_slug=request.organization.slug)
    done, total = len(state["results"]), len(state["rows"])
    # `at` makes a repeated or concurrent post harmless: only the expected chunk is processed.
    expected = request.method == "POST" and request.POST.get("at") == str(done)
    if expected and done < total and _can_change(request):
        chunk = state["rows"][done : done + mailbox_imports.CHUNK]
        results = mailbox_imports.mailbox_import_chunk(
            actor=request.actor,
            organization=request.organization,
            rows=chunk,
            first_line=done + 2,
        )
        state["results"] += [row.as_dict() for row in results]
        state["rows"][done : done + len(chunk)] = [{} for _ in chunk]  # passwords: gone
        _import_save(request, state)
        done = len(state["results"])
    created = [r for r in state["results"] if r["result"] == "created"]
    context = portal_context(
        request,
        nav="mailboxes",
        done=done,
        total=total,
        percent=round(100 * done / total) if total else 100,
        finished=done >= total,
        created_count=len(created),
        generated_count=sum(1 for r in created if r["password"]),
        refused=[r for r in state["results"] if r["result"] == "refused"],
    )
    template = "hosting/mailbox_import_progress.html"
    return render(request, f"{template}#progress" if request.htmx else template, context)


@hosting_view
def mailbox_import_report(request):
    """The finished import's report as CSV, generated passwords included; it can be fetched once."""
    state = _import_state(request)
    if state is None or len(state["results"]) < len(state["rows"]):
        raise Http404
    request.session.pop(IMPORT_SESSION_KEY, None)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["line", "address", "result", "message", "password"])
    writer.writeheader()
    writer.writerows(state["results"])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="mailbox-import-report.csv"'
    response["Cache-Control"] = "no-store"
    return response


@hosting_view
def mailbox_export(request):
    rows = mailbox_imports.mailbox_export_rows(organization=request.organization)
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    filename = f"{request.organization.slug}-mailboxes.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
