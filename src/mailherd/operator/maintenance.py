"""The global email-hosting switch at the edge: every hosting route answers a maintenance page.

Which routes are "hosting" is decided from the view itself, not from a list of URLs: a view
whose code lives in one of HOSTING_MODULES (for the REST API: any operation behind the
route), or any view marked with `hosting_route = True`. New hosting pages are covered the
moment they are added to those apps.

While the operator has switched email hosting off (`feature_enabled("email_hosting")` is
False), `HostingSwitchMiddleware` answers such routes with HTTP 503: a JSON error
`{"code": "maintenance", ...}` for the API, a branded maintenance page for everything else
(inside the portal layout, hosting links hidden, for a member of the organization in the
URL). Mail itself keeps flowing: Mailcow is not touched, and mail sign-in and webmail stay.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.template.response import TemplateResponse

from mailherd.operator.selectors import EMAIL_HOSTING, feature_enabled

# Code under these modules is email hosting (portal pages, API routers, public set-up files).
HOSTING_MODULES = (
    "mailherd.hosting",
    "mailherd.dns",
    "mailherd.deliverability",
    "mailherd.rules",
    "mailherd.webmail.portal_views",
    "mailherd.webmail.api",
)
RETRY_AFTER_SECONDS = 600
MAINTENANCE_CODE = "maintenance"


def maintenance_message() -> str:
    from mailherd.operator.errors import FeaturePaused

    return FeaturePaused.default_message


def _in_hosting_module(func) -> bool:
    module = getattr(func, "__module__", "") or ""
    return any(module == name or module.startswith(name + ".") for name in HOSTING_MODULES)


def route_functions(view_func) -> list:
    """The functions that a URL's callback runs: itself, or a REST API route's operations."""
    from ninja.operation import PathView

    for cell in getattr(view_func, "__closure__", None) or ():
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(contents, PathView):
            return [operation.view_func for operation in contents.operations]
    return [view_func]


def is_hosting_route(view_func) -> bool:
    if getattr(view_func, "hosting_route", False):
        return True
    return any(_in_hosting_module(func) for func in route_functions(view_func))


def is_hosting_tool(tool) -> bool:
    """An MCP tool of email hosting: gated by it, or its handler lives in a hosting module."""
    return tool.feature == EMAIL_HOSTING or _in_hosting_module(tool.handler)


def is_api_route(view_func) -> bool:
    return route_functions(view_func) != [view_func]


def maintenance_response(request, *, api: bool = False, org_slug: str | None = None):
    """HTTP 503 with Retry-After: JSON for the API, else a branded page."""
    if api:
        response = JsonResponse(
            {"code": MAINTENANCE_CODE, "message": maintenance_message()}, status=503
        )
    else:
        context = {"message": maintenance_message()}
        template = "maintenance.html"
        membership = _membership(request, org_slug)
        if membership is not None:
            from mailherd.portal.base import portal_context

            request.membership = membership
            request.organization = membership.organization
            context.update(portal_context(request))
            template = "portal/maintenance.html"
        response = TemplateResponse(request, template, context, status=503)
        response.render()
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def _membership(request, org_slug):
    """The signed-in user's membership of `org_slug`, else None (non-members see the plain page)."""
    user = getattr(request, "user", None)
    if not org_slug or user is None or not user.is_authenticated:
        return None
    from mailherd.tenancy.models import Membership

    return (
        Membership.objects.select_related("organization__plan")
        .filter(user=user, organization__slug=org_slug)
        .first()
    )


class HostingSwitchMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if feature_enabled(EMAIL_HOSTING) or not is_hosting_route(view_func):
            return None
        return maintenance_response(
            request, api=is_api_route(view_func), org_slug=view_kwargs.get("org_slug")
        )


def hosting_context(request) -> dict:
    """Template context: `hosting_enabled`, so the sidebar hides hosting links while it is off."""
    return {"hosting_enabled": feature_enabled(EMAIL_HOSTING)}
