"""Customer-facing views: the organization's audit trail, dismissing announcements, the logo."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from mailherd.core.admin import audit_csv_response
from mailherd.notifications.services import announcement_dismiss
from mailherd.operator.selectors import branding_get, organization_audit_list
from mailherd.portal.base import org_view, portal_context
from mailherd.tenancy.models import Role

AUDIT_PAGE_SIZE = 50


@org_view
def audit_trail(request):
    """Owners see every change made in their organization: by whom, from where, when."""
    if request.membership.role != Role.OWNER:
        return render(
            request,
            "operator/portal_audit.html",
            portal_context(request, nav="audit", forbidden=True),
            status=403,
        )
    action = request.GET.get("action", "").strip()
    actor = request.GET.get("actor", "").strip()
    events = organization_audit_list(organization=request.organization, action=action, actor=actor)
    if request.GET.get("format") == "csv":
        return audit_csv_response(events, f"{request.organization.slug}-audit.csv")
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    context = portal_context(request, nav="audit", page=page, action=action, actor=actor)
    return render(request, "operator/portal_audit.html", context)


@require_POST
@login_required
def announcement_dismiss_view(request, announcement_id):
    announcement_dismiss(user=request.user, announcement_id=announcement_id)
    if request.htmx:
        return HttpResponse("")
    next_url = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    return redirect(next_url)


def branding_logo(request):
    branding = branding_get()
    if not branding.logo:
        raise Http404("No logo")
    response = HttpResponse(bytes(branding.logo), content_type=branding.logo_content_type)
    # The URL carries the version (?v=), so it can be cached for long.
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    if branding.logo_content_type == "image/svg+xml":
        # An SVG opened directly must not run scripts in our origin.
        response["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; sandbox"
        )
    return response
