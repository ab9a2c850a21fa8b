"""Back office for billing: subscriptions, invoices (with refunds) and webhook events."""

import uuid
from decimal import Decimal

from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect, render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from mailherd.billing import conf, manual, services
from mailherd.billing.dunning import dunning_next_step
from mailherd.billing.forms import BillingSettingsForm, ManualInvoiceForm, PaymentForm, RefundForm
from mailherd.billing.models import (
    BillingSettings,
    DunningNotice,
    Invoice,
    PlanRequest,
    Refund,
    Subscription,
    WebhookDeadLetter,
    WebhookEvent,
)
from mailherd.billing.webhooks import webhook_event_revive
from mailherd.core.actors import Actor, client_ip
from mailherd.core.errors import MailherdError
from mailherd.operator.filters import titled
from mailherd.tenancy.models import Organization


def _end_of_day(day):
    """A due date means "paid by the end of that day" (in the site's time zone)."""
    if day is None:
        return None
    from datetime import datetime, time

    from django.utils import timezone

    return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


def _actor(request) -> Actor:
    return Actor.for_user(request.user, ip=client_ip(request))


def _money(cents: int, currency: str = "") -> str:
    return f"{cents / 100:,.2f} {currency.upper()}".strip()


class DunningNoticeInline(admin.TabularInline):
    model = DunningNotice
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "episode_started_at", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = [
        "organization",
        "plan",
        "status",
        "cancel_at_period_end",
        "current_period_end",
        "dunning_started_at",
        "next_step",
        "suspended_by_billing",
        "suspension_stage",
        "manual",
    ]
    list_filter = [
        ("manual", titled("manual billing")),
        ("status", titled("subscription status")),
        "cancel_at_period_end",
        "suspended_by_billing",
        ("organization__suspension_stage", titled("suspension stage")),
        "plan",
    ]
    search_fields = [
        "organization__name",
        "organization__slug",
        "stripe_customer_id",
        "stripe_subscription_id",
    ]
    list_select_related = ["organization", "plan"]
    readonly_fields = (
        ["next_step"] + [f.name for f in Subscription._meta.fields] + ["suspension_stage"]
    )
    inlines = [DunningNoticeInline]
    actions = ["sync_from_stripe"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Next dunning step", ordering="next_dunning_at")
    def next_step(self, obj):
        step = dunning_next_step(row=obj)
        if step is None:
            return "—"
        when, what = step
        return f"{what} on {when:%Y-%m-%d %H:%M}"

    @admin.display(description="Suspension", ordering="organization__suspension_stage")
    def suspension_stage(self, obj):
        organization = obj.organization
        label = organization.get_suspension_stage_display()
        if organization.suspended_at and organization.is_suspended:
            return f"{label} (since {organization.suspended_at:%Y-%m-%d})"
        return label

    @admin.action(description="Re-read from Stripe now")
    def sync_from_stripe(self, request, queryset):
        for subscription in queryset:
            try:
                services.billing_sync(subscription_id=subscription.pk)
            except MailherdError as exc:
                self.message_user(request, f"{subscription}: {exc.message}", messages.ERROR)
        self.message_user(request, "Synced.")


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    readonly_fields = [
        "amount_display",
        "reason",
        "status",
        "created_by",
        "created_at",
        "stripe_refund_id",
    ]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return _money(obj.amount, obj.invoice.currency)


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "organization",
        "issued_at",
        "amount",
        "status",
        "due_at",
        "refunded",
        "refund_link",
    ]
    list_filter = ["status", ("manual", titled("manual billing")), "currency"]
    search_fields = ["number", "stripe_invoice_id", "organization__name", "organization__slug"]
    list_select_related = ["organization"]
    readonly_fields = [f.name for f in Invoice._meta.fields] + ["refund_link"]
    inlines = [RefundInline]
    date_hierarchy = "issued_at"

    def has_add_permission(self, request):
        return False

    @admin.display(description="Amount", ordering="amount_due")
    def amount(self, obj):
        return _money(obj.amount_due, obj.currency)

    @admin.display(description="Refunded", ordering="amount_refunded")
    def refunded(self, obj):
        return _money(obj.amount_refunded, obj.currency) if obj.amount_refunded else "—"

    @admin.display(description="Refund / payment")
    def refund_link(self, obj):
        if obj.manual and obj.status == Invoice.Status.OPEN:
            return format_html(
                '<a class="button" href="{}">Record payment…</a>',
                reverse("admin:billing_invoice_payment", args=[obj.pk]),
            )
        if obj.manual or obj.status != Invoice.Status.PAID or obj.refundable <= 0:
            return "—"
        return format_html(
            '<a class="button" href="{}">Refund…</a>',
            reverse("admin:billing_invoice_refund", args=[obj.pk]),
        )

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:invoice_id>/refund/", wrap(self.refund_view), name="billing_invoice_refund"),
            path(
                "<int:invoice_id>/payment/", wrap(self.payment_view), name="billing_invoice_payment"
            ),
            path(
                "manual/<int:organization_id>/",
                wrap(self.manual_invoice_view),
                name="billing_invoice_manual",
            ),
            *super().get_urls(),
        ]

    def manual_invoice_view(self, request, organization_id):
        """Record an invoice the operator sends by hand (manual billing)."""
        organization = get_object_or_404(
            Organization.objects.select_related("plan"), pk=organization_id
        )
        initial = {
            "amount": (Decimal(organization.plan.price_monthly_cents) / 100).quantize(
                Decimal("0.01")
            ),
            "description": f"{organization.plan.name} plan",
        }
        form = ManualInvoiceForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                invoice = manual.manual_invoice_create(
                    actor=_actor(request),
                    organization_id=organization.pk,
                    amount_cents=int(form.cleaned_data["amount"] * 100),
                    description=form.cleaned_data["description"],
                    due_at=_end_of_day(form.cleaned_data["due_on"]),
                )
            except MailherdError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    f"Invoice {invoice.number} recorded for {organization}, due "
                    f"{invoice.due_at:%Y-%m-%d}.",
                )
                return redirect("admin:tenancy_organization_change", organization.pk)
        return TemplateResponse(
            request,
            "billing/admin_form.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Record an invoice for {organization}",
                "intro": "Manual billing: send the invoice yourself; it counts as overdue after "
                "its due date (dunning emails, then suspension, as with card payments).",
                "form": form,
                "submit": "Record invoice",
                "opts": self.model._meta,
            },
        )

    def payment_view(self, request, invoice_id):
        invoice = get_object_or_404(Invoice.objects.select_related("organization"), pk=invoice_id)
        form = PaymentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                manual.manual_payment_record(
                    actor=_actor(request),
                    invoice_id=invoice.pk,
                    reference=form.cleaned_data["reference"],
                )
            except MailherdError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request, f"Payment of {invoice} recorded; mail is restored if it was suspended."
                )
                return redirect("admin:billing_invoice_change", invoice.pk)
        return TemplateResponse(
            request,
            "billing/admin_form.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Record the payment of {invoice}",
                "intro": f"{invoice.organization} · {_money(invoice.amount_due, invoice.currency)}"
                f" · due {invoice.due_at:%Y-%m-%d}"
                if invoice.due_at
                else "",
                "form": form,
                "submit": "Record payment",
                "opts": self.model._meta,
            },
        )

    def refund_view(self, request, invoice_id):
        invoice = get_object_or_404(Invoice.objects.select_related("organization"), pk=invoice_id)
        initial = {"amount": Decimal(invoice.refundable) / 100, "key": uuid.uuid4().hex}
        form = RefundForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                services.invoice_refund(
                    actor=_actor(request),
                    invoice_id=invoice.pk,
                    amount=int(form.cleaned_data["amount"] * 100),
                    reason=form.cleaned_data["reason"],
                    idempotency_key=form.cleaned_data["key"],
                )
            except MailherdError as exc:
                form.add_error("amount", exc.message)
            else:
                self.message_user(
                    request, f"Refunded {form.cleaned_data['amount']} {invoice.currency.upper()}."
                )
                return redirect("admin:billing_invoice_change", invoice.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund invoice {invoice}",
            "invoice": invoice,
            "form": form,
            "refundable": _money(invoice.refundable, invoice.currency),
            "opts": self.model._meta,
        }
        return render(request, "billing/admin_refund.html", context)


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = [
        "stripe_event_id",
        "type",
        "status",
        "attempts",
        "next_attempt_at",
        "duplicates",
        "received_at",
    ]
    list_filter = ["status", "type"]
    search_fields = ["stripe_event_id", "object_id", "type"]
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]
    actions = ["reprocess"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Handle again (re-reads current state from Stripe)")
    def reprocess(self, request, queryset):
        for event in queryset:
            done = webhook_event_revive(actor=_actor(request), event_id=event.pk)
            if done.status in (WebhookEvent.Status.FAILED, WebhookEvent.Status.DEAD):
                self.message_user(
                    request,
                    f"{done}: still failing ({done.handler_error.strip().splitlines()[-1:]})",
                    messages.ERROR,
                )
        self.message_user(request, "Done.")


@admin.register(WebhookDeadLetter)
class WebhookDeadLetterAdmin(WebhookEventAdmin):
    """Events that failed `max_attempts()` times: look at the error, fix, then handle again."""

    list_display = ["stripe_event_id", "type", "attempts", "last_error", "received_at"]
    list_filter = ["type"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=WebhookEvent.Status.DEAD)

    @admin.display(description="Last error")
    def last_error(self, obj):
        lines = [line for line in obj.handler_error.strip().splitlines() if line.strip()]
        return lines[-1][:200] if lines else ""


@admin.register(PlanRequest)
class PlanRequestAdmin(admin.ModelAdmin):
    """Manual billing: plans customers asked for. Approve or decline them here."""

    list_display = ["organization", "plan", "status", "requested_by", "created_at", "decided_by"]
    list_filter = ["status", "plan"]
    search_fields = ["organization__name", "organization__slug"]
    list_select_related = ["organization", "plan"]
    readonly_fields = [f.name for f in PlanRequest._meta.fields]
    actions = ["approve_selected", "decline_selected"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Approve the selected requests (plan changes now, trial if any)")
    def approve_selected(self, request, queryset):
        for plan_request in queryset:
            try:
                manual.plan_request_approve(actor=_actor(request), request_id=plan_request.pk)
            except MailherdError as exc:
                self.message_user(request, f"{plan_request}: {exc.message}", messages.ERROR)
            else:
                self.message_user(
                    request, f"{plan_request.organization} is now on {plan_request.plan}."
                )

    @admin.action(description="Decline the selected requests")
    def decline_selected(self, request, queryset):
        for plan_request in queryset:
            try:
                manual.plan_request_decline(actor=_actor(request), request_id=plan_request.pk)
            except MailherdError as exc:
                self.message_user(request, f"{plan_request}: {exc.message}", messages.ERROR)
        self.message_user(request, "Declined.")


@admin.register(BillingSettings)
class BillingSettingsAdmin(admin.ModelAdmin):
    """One page: the dunning schedule and suspension stages (blank: environment default)."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.settings_view), name="billing_billingsettings_changelist"),
            path(
                "<path:object_id>/", wrap(self.settings_view), name="billing_billingsettings_change"
            ),
        ]

    def settings_view(self, request, object_id=None):
        row = BillingSettings.load()
        initial = {
            field: getattr(row, field) if getattr(row, field) is not None else ""
            for field in services.SETTINGS_FIELDS
        }
        form = BillingSettingsForm(
            request.POST or None, initial=initial, defaults=conf.environment_defaults()
        )
        if request.method == "POST" and form.is_valid():
            values = {
                key: "" if value is None else value for key, value in form.cleaned_data.items()
            }
            try:
                services.billing_settings_update(actor=_actor(request), values=values)
            except MailherdError as exc:
                form.add_error(exc.fields.get("field"), exc.message)
            else:
                self.message_user(request, "Billing settings saved; schedules follow them now.")
                return redirect("admin:billing_billingsettings_changelist")
        schedule = [
            ("Payment retries", ", ".join(f"day {d}" for d in conf.retry_days()) or "none"),
            *[
                (kind.replace("billing_", "").replace("_", " ").capitalize(), f"day {day}")
                for kind, day in conf.notices()
            ],
            ("Suspension (sign-in refused)", f"day {conf.grace_period().days}"),
            ("Deactivation", f"{conf.deactivate_after().days} days after the suspension"),
            ("Deletion", f"{conf.delete_after().days} days after the suspension"),
            (
                "Deletion warnings",
                ", ".join(f"{d} days before" for d in conf.deletion_warning_days()) or "none",
            ),
        ]
        return TemplateResponse(
            request,
            "billing/admin_form.html",
            {
                **self.admin_site.each_context(request),
                "title": "Billing settings",
                "intro": "Days count from the first failed payment (or the manual invoice's due "
                "date), the later stages from the suspension. Leave a field blank for the "
                "environment's default.",
                "form": form,
                "schedule": schedule,
                "submit": "Save",
                "opts": self.model._meta,
            },
        )
