"""The back office: Django's admin site, for the operator's staff only, with two-factor required.

Every app keeps registering its ModelAdmins on `django.contrib.admin.site` as
usual; `OperatorAdminSite.adopt()` re-registers them on this site, which is the
only one mounted (at /operator/). That way each ModelAdmin's views pass through
this site's `admin_view()` and so through the two-factor check.
"""

from functools import wraps
from urllib.parse import urlencode

from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from mailherd.operator.selectors import (
    branding_get,
    feature_switch_list,
    operator_dashboard,
    operator_has_two_factor,
    periodic_job_list,
    session_may_enrol,
    session_passed_two_factor,
)

HIDDEN_APPS = {"django_celery_beat"}
HIDDEN_MODELS = {"auth.Group"}

__all__ = ["OperatorAdminSite", "operator_has_two_factor", "operator_site"]


class OperatorAdminSite(admin.AdminSite):
    index_template = "operator/dashboard.html"
    site_url = "/"
    # The index lists every section; without the sidebar, tables get the width of the screen.
    enable_nav_sidebar = False

    def adopt(self, site: admin.AdminSite) -> None:
        """Register here every ModelAdmin registered on `site` (not yet registered here).

        Left out: Celery beat's tables (the schedule is code, src/mailherd/schedule.py, synced at
        start; the dashboard shows it read-only) and Groups (operators are all alike).
        """
        for model, model_admin in site._registry.items():
            if model is Authenticator:
                continue  # TOTP secrets are no operator's business (and are encrypted anyway)
            if model in self._registry or model._meta.label in HIDDEN_MODELS:
                continue
            if model._meta.app_label in HIDDEN_APPS:
                continue
            from mailherd.operator.audit_admin import audited

            self.register(model, audited(type(model_admin)))

    def each_context(self, request):
        context = super().each_context(request)
        branding = branding_get()
        context["site_header"] = f"{branding.product_name} back office"
        context["site_title"] = f"{branding.product_name} operator"
        context["branding"] = branding
        return context

    def has_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def admin_view(self, view, cacheable=False):
        """Staff only (else the login page), and only sessions that passed a second factor.

        The check is on this session, not on the user: a session signed in with
        the password alone stays out even after another session set TOTP up.
        Staff without TOTP enrol through the one-time link from the operator who
        created them (`operator_enrolment_create`), never on their own.
        """
        protected = super().admin_view(view, cacheable)

        @wraps(protected)
        def inner(request, *args, **kwargs):
            if self.has_permission(request) and not session_passed_two_factor(request):
                query = urlencode({"next": request.get_full_path()})
                if operator_has_two_factor(request.user):
                    return redirect(f"{reverse('mfa_reauthenticate')}?{query}")
                if session_may_enrol(request):
                    return redirect(f"{reverse('mfa_activate_totp')}?{query}")
                return self.enrolment_required(request)
            return protected(request, *args, **kwargs)

        return inner

    def enrolment_required(self, request):
        context = {**self.each_context(request), "title": "Two-factor set-up needed"}
        return TemplateResponse(request, "operator/enrolment_required.html", context, status=403)

    def enrol(self, request, token):
        """The one-time set-up link: sign in with the password, then set up the authenticator."""
        from mailherd.core.errors import MailherdError
        from mailherd.operator.services import operator_enrolment_open

        if not request.user.is_authenticated:
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('account_login')}?{query}")
        try:
            operator_enrolment_open(request=request, token=token)
        except MailherdError as exc:
            context = {
                **self.each_context(request),
                "title": "Link not valid",
                "error": exc.message,
            }
            return TemplateResponse(
                request, "operator/enrolment_required.html", context, status=404
            )
        query = urlencode({"next": reverse("admin:index")})
        return redirect(f"{reverse('mfa_activate_totp')}?{query}")

    def login(self, request, extra_context=None):
        """Sign-in goes through the portal's sign-in (allauth), which asks for the TOTP code.

        Django admin's own password-only form would skip the second factor.
        """
        next_url = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
            next_url = reverse("admin:index")
        if request.user.is_authenticated:
            if self.has_permission(request):
                return redirect(next_url)
            context = {**self.each_context(request), "title": "Not available"}
            return TemplateResponse(request, "operator/denied.html", context, status=403)
        return redirect(f"{reverse('account_login')}?{urlencode({'next': next_url})}")

    def index(self, request, extra_context=None):
        extra_context = {
            "dashboard": operator_dashboard(),
            "switches": feature_switch_list(),
            "periodic_jobs": periodic_job_list(),
            **(extra_context or {}),
        }
        return super().index(request, extra_context)

    def get_urls(self):
        from mailherd.operator import views

        custom = [
            path("enrol/<str:token>/", self.enrol, name="operator_enrol"),
            path(
                "switches/<slug:name>/",
                self.admin_view(views.feature_switch_toggle),
                name="operator_feature_switch",
            ),
            path(
                "view-as/<int:organization_id>/",
                self.admin_view(views.customer_view),
                name="operator_customer_view",
            ),
            path(
                "view-as/<int:organization_id>/<path:rest>",
                self.admin_view(views.customer_view),
                name="operator_customer_view_page",
            ),
        ]
        return custom + super().get_urls()


operator_site = OperatorAdminSite(name="admin")
