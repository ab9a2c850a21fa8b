from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.views.decorators.http import require_POST

from mailherd.core.actors import Actor, client_ip
from mailherd.core.errors import MailherdError
from mailherd.operator.confirm import EFFECTS, confirm_action
from mailherd.operator.filters import titled
from mailherd.plans.models import Plan
from mailherd.tenancy.models import Invitation, Membership, Organization, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    # Groups and per-user permissions are not used: staff are operators, all alike.
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal", {"fields": ("full_name",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    actions = ["operator_setup_link"]

    @admin.action(description="Create a two-factor set-up link (new operators)")
    def operator_setup_link(self, request, queryset):
        """New operators enrol their authenticator only through this one-time link."""
        from mailherd.operator.services import ENROLMENT_HOURS, operator_enrolment_create

        for user in queryset:
            try:
                link = operator_enrolment_create(actor=_actor(request), user=user)
            except MailherdError as exc:
                self.message_user(request, exc.message, messages.WARNING)
                continue
            self.message_user(
                request,
                f"Set-up link for {user.email} (works once, for {ENROLMENT_HOURS} hours; "
                f"shown only now, send it to them yourself): {link}",
                messages.SUCCESS,
            )


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class PlanChangeForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=Plan.objects.all(), empty_label=None)
    proration = forms.ChoiceField(
        choices=[
            ("create_prorations", "Prorate: the difference goes on the next invoice"),
            ("always_invoice", "Prorate and invoice the difference now"),
            ("none", "No proration: the new price from the next period"),
        ],
        initial="create_prorations",
        widget=forms.RadioSelect,
        required=False,
        help_text="For organizations that pay through Stripe: the Stripe subscription moves "
        "to the new plan's price.",
    )


class SuspendForm(forms.Form):
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept in the audit trail",
    )


ORGANIZATION_PAGE_SIZE = 20  # per list on an organization's page


def _actor(request) -> Actor:
    return Actor.for_user(request.user, ip=client_ip(request))


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    """Organizations. Plan and status change only through the actions (limits, Mailcow, audit)."""

    list_display = [
        "name",
        "slug",
        "plan",
        "status",
        "suspension_stage",
        "mail_server",
        "member_count",
        "created_at",
    ]
    list_filter = [
        "status",
        "suspension_stage",
        "plan",
        ("billing__status", titled("subscription status")),
        "mail_server",
        "created_at",
    ]
    search_fields = ["name", "slug", "memberships__user__email"]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]
    change_form_template = "operator/organization_change_form.html"
    actions = ["suspend_selected", "deactivate_selected", "reactivate_selected"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("plan", "mail_server")
            .annotate(_members=Count("memberships", distinct=True))
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ["plan", "status", "suspension_stage", "suspended_at", "created_at"]
        return ["status", "suspension_stage", "suspended_at", "created_at"]

    def has_delete_permission(self, request, obj=None):
        # Deleting here would leave its domains and mailboxes in Mailcow; closing is a service.
        return False

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj):
        return obj._members

    # --- detail ---------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from mailherd.notifications.models import NotificationLog
        from mailherd.operator.selectors import (
            organization_audit_list,
            organization_hosting_objects,
            organization_invoices,
        )
        from mailherd.plans.selectors import organization_usage

        organization = self.get_object(request, object_id)
        if organization is not None:
            hosting = organization_hosting_objects(organization=organization)
            pages = {
                key: Paginator(hosting[key], ORGANIZATION_PAGE_SIZE).get_page(
                    request.GET.get(f"{key}_page")
                )
                for key in ("domains", "mailboxes", "aliases")
            }
            extra_context = {
                "usage": organization_usage(organization=organization).values(),
                "hosting": pages,
                "invoices": organization_invoices(organization=organization),
                "history": organization_audit_list(organization=organization)[:25],
                "notifications": NotificationLog.objects.filter(organization=organization)[:10],
                **(extra_context or {}),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/change-plan/",
                wrap(self.change_plan_view),
                name="tenancy_organization_change_plan",
            ),
            path("<int:pk>/suspend/", wrap(self.suspend_view), name="tenancy_organization_suspend"),
            path(
                "<int:pk>/reactivate/",
                wrap(self.reactivate_view),
                name="tenancy_organization_reactivate",
            ),
        ] + super().get_urls()

    def _detail(self, organization):
        return redirect("admin:tenancy_organization_change", organization.pk)

    def change_plan_view(self, request, pk):
        from mailherd.billing.services import operator_plan_change

        organization = get_object_or_404(Organization.objects.select_related("plan"), pk=pk)
        if not self.has_change_permission(request, organization):
            raise PermissionDenied
        form = PlanChangeForm(request.POST or None, initial={"plan": organization.plan})
        billing = getattr(organization, "billing", None)  # no billing row: None
        if billing is None or billing.manual or not billing.stripe_subscription_id:
            form.fields.pop("proration")  # nothing in Stripe to prorate
        problems = []
        if request.method == "POST" and form.is_valid():
            try:
                operator_plan_change(
                    actor=_actor(request),
                    organization_id=organization.pk,
                    plan_id=form.cleaned_data["plan"].pk,
                    proration=form.cleaned_data.get("proration") or "create_prorations",
                )
            except MailherdError as exc:
                problems = exc.fields.get("problems") or [exc.message]
            else:
                messages.success(
                    request, f"{organization.name} is now on {form.cleaned_data['plan'].name}."
                )
                return self._detail(organization)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change the plan of {organization.name}",
            "organization": organization,
            "form": form,
            "problems": problems,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "operator/organization_change_plan.html", context)

    def suspend_view(self, request, pk):
        from mailherd.hosting.services import organization_mail_suspend

        organization = get_object_or_404(Organization, pk=pk)
        if not self.has_change_permission(request, organization):
            raise PermissionDenied
        form = SuspendForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            organization_mail_suspend(
                actor=_actor(request),
                organization_id=organization.pk,
                reason=form.cleaned_data["reason"],
            )
            messages.success(
                request, f"{organization.name} is suspended; its mailboxes cannot sign in."
            )
            return self._detail(organization)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Suspend {organization.name}",
            "organization": organization,
            "form": form,
            "effects": EFFECTS["suspend"],
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "operator/organization_suspend.html", context)

    def reactivate_view(self, request, pk):
        return require_POST(self._reactivate)(request, pk)

    def _reactivate(self, request, pk):
        from mailherd.hosting.services import organization_mail_restore

        organization = get_object_or_404(Organization, pk=pk)
        if not self.has_change_permission(request, organization):
            raise PermissionDenied
        organization_mail_restore(actor=_actor(request), organization_id=organization.pk)
        messages.success(request, f"{organization.name} is active again.")
        return self._detail(organization)

    # --- list actions ---------------------------------------------------------------------

    @admin.action(description="Suspend the selected organizations (mail kept, sign-in blocked)")
    def suspend_selected(self, request, queryset):
        from mailherd.hosting.services import organization_mail_suspend

        page = confirm_action(
            self,
            request,
            queryset,
            action="suspend_selected",
            title="Suspend these organizations?",
            effects="suspend",
            button="Yes, suspend",
        )
        if page is not None:
            return page

        for organization in queryset:
            organization_mail_suspend(
                actor=_actor(request), organization_id=organization.pk, reason="operator action"
            )
        self.message_user(request, f"{queryset.count()} organization(s) suspended.")

    @admin.action(
        description="Deactivate the selected organizations' mail (mailboxes and domains off, mail refused)"
    )
    def deactivate_selected(self, request, queryset):
        from mailherd.hosting.services.suspension import organization_mail_deactivate

        page = confirm_action(
            self,
            request,
            queryset,
            action="deactivate_selected",
            title="Deactivate these organizations' mail?",
            effects="deactivate",
            button="Yes, deactivate and refuse mail",
        )
        if page is not None:
            return page

        for organization in queryset:
            organization_mail_deactivate(
                actor=_actor(request), organization_id=organization.pk, reason="operator action"
            )
        self.message_user(
            request,
            f"{queryset.count()} organization(s) deactivated: incoming mail is refused until reactivated.",
        )

    @admin.action(description="Reactivate the selected organizations")
    def reactivate_selected(self, request, queryset):
        from mailherd.hosting.services import organization_mail_restore

        for organization in queryset:
            organization_mail_restore(actor=_actor(request), organization_id=organization.pk)
        self.message_user(request, f"{queryset.count()} organization(s) reactivated.")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "organization__name"]
    list_select_related = ["user", "organization"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "organization",
        "role",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    ]
    search_fields = ["email", "organization__name"]
    exclude = ["token_hash"]
    readonly_fields = ["accepted_at", "accepted_by"]
