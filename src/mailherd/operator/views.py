"""Back-office views beyond the ModelAdmins; mounted by OperatorAdminSite.get_urls (staff + 2FA)."""

import inspect
import re

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve, reverse
from django.views.decorators.http import require_POST

from mailherd.core.actors import Actor, client_ip
from mailherd.core.errors import MailherdError
from mailherd.operator.selectors import feature_switch_list
from mailherd.operator.services import customer_view_start, feature_switch_set
from mailherd.tenancy.models import Membership, Organization, Role

CUSTOMER_VIEW_SESSION_KEY = "operator_customer_views"


# What turning a switch off does, shown on the confirmation page first.
SWITCH_OFF_EFFECTS = {
    "email_hosting": [
        "Customers: every domain, mailbox, alias and DNS page, the zone file, DNS providers, "
        "mail-client set-up files (autoconfig, autodiscover, .mobileconfig) and MTA-STS policies "
        "answer a maintenance page; the REST API and MCP tools for hosting answer "
        "503 “maintenance”. Hosting links leave the portal's menu.",
        "Mail: keeps flowing; Mailcow is not changed and mailboxes still sign in.",
        "Undo: “Turn on” brings every page back at once (other web processes within a minute).",
    ],
}


@require_POST
def feature_switch_toggle(request, name):
    current = {row["name"]: row["enabled"] for row in feature_switch_list()}
    if name not in current:
        raise Http404("No such switch")
    if current[name] and request.POST.get("confirmed") != "yes":
        from django.template.response import TemplateResponse

        from mailherd.operator.sites import operator_site

        context = {
            **operator_site.each_context(request),
            "title": f"Turn {name.replace('_', ' ')} off?",
            "name": name,
            "effects": SWITCH_OFF_EFFECTS.get(name, ["The feature is switched off for everyone."]),
            "note": request.POST.get("note", ""),
        }
        return TemplateResponse(request, "operator/switch_confirm.html", context)
    actor = Actor.for_user(request.user, ip=client_ip(request))
    try:
        feature_switch_set(
            actor=actor, name=name, enabled=not current[name], note=request.POST.get("note", "")
        )
    except MailherdError as exc:
        messages.error(request, exc.message)
    else:
        state = "off" if current[name] else "on"
        messages.success(request, f"{name.replace('_', ' ').capitalize()} is now {state}.")
    return redirect("admin:index")


def customer_view(request, organization_id, rest=""):
    """Show a portal page of an organization as its owner sees it, read-only and audited.

    1. The first page of a session's view of an organization is recorded in that
       organization's audit trail (its owners see that an operator looked).
    2. The portal view behind `/o/<slug>/<rest>` is called directly with an
       owner-like membership that is never saved, inside a transaction that is
       always rolled back; anything but GET is refused before the view runs.
    3. Links to the organization's pages are rewritten to stay in this view.
    """
    organization = get_object_or_404(Organization, pk=organization_id)
    base = reverse("admin:operator_customer_view", args=[organization.pk])
    if request.method not in ("GET", "HEAD"):
        messages.error(request, "This is a read-only view: nothing was changed.")
        return HttpResponseRedirect(request.path)

    seen = request.session.get(CUSTOMER_VIEW_SESSION_KEY, [])
    if organization.pk not in seen:
        customer_view_start(
            actor=Actor.for_user(request.user, ip=client_ip(request)), organization=organization
        )
        request.session[CUSTOMER_VIEW_SESSION_KEY] = [*seen, organization.pk]

    portal_path = f"/o/{organization.slug}/{rest}"
    try:
        match = resolve(portal_path)
    except Resolver404:
        raise Http404("No such portal page")
    if match.kwargs.get("org_slug") != organization.slug:
        raise Http404("Not an organization page")
    view = inspect.unwrap(match.func)  # past login_required and org_view: we set their attributes
    request.membership = Membership(organization=organization, user=request.user, role=Role.OWNER)
    request.organization = organization
    request.actor = Actor.for_user(request.user, ip=client_ip(request))
    kwargs = {key: value for key, value in match.kwargs.items() if key != "org_slug"}
    with transaction.atomic():
        response = view(request, *match.args, **kwargs)
        if hasattr(response, "render") and not getattr(response, "is_rendered", True):
            response.render()
        transaction.set_rollback(True)
    return _rewrite(response, organization, base)


def _rewrite(response, organization, base: str):
    portal_prefix = f"/o/{organization.slug}/"
    if "Location" in response and response["Location"].startswith(portal_prefix):
        response["Location"] = base + response["Location"][len(portal_prefix) :]
    content_type = response.get("Content-Type", "")
    if getattr(response, "streaming", False) or not content_type.startswith("text/html"):
        return response
    html = response.content.decode(response.charset or "utf-8")
    html = re.sub(r'(["\'])' + re.escape(portal_prefix), lambda m: m.group(1) + base, html)
    bar = render_to_string("operator/_customer_view_bar.html", {"organization": organization})
    html = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + bar, html, count=1)
    rewritten = HttpResponse(html, status=response.status_code, content_type=content_type)
    for header in ("Location", "Cache-Control"):
        if header in response:
            rewritten[header] = response[header]
    return rewritten
