"""Back office for billing: subscriptions, invoices (with refunds) and webhook events."""

from decimal import Decimal

from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from mailherd.billing import services
from mailherd.billing.forms import RefundForm
from mailherd.billing.models import DunningNotice, Invoice, Refund, Subscription, WebhookEvent
from mailherd.billing.webhooks import webhook_event_process
from mailherd.core.actors import Actor, client_ip
from mailherd.core.errors import MailherdError
from mailherd.operator.filters import titled


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
        "next_dunning_at",
        "suspended_by_billing",
        "suspension_stage",
    ]
    list_filter = [
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
    readonly_fields = [f.name for f in Subscription._meta.fields] + ["suspension_stage"]
    inlines = [DunningNoticeInline]
    actions = ["sync_from_stripe"]

    def has_add_permission(self, request):
        return False

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
        "refunded",
        "refund_link",
    ]
    list_filter = ["status", "currency"]
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

    @admin.display(description="Refund")
    def refund_link(self, obj):
        if obj.status != Invoice.Status.PAID or obj.refundable <= 0:
            return "—"
        return format_html(
            '<a class="button" href="{}">Refund…</a>',
            reverse("admin:billing_invoice_refund", args=[obj.pk]),
        )

    def get_urls(self):
        return [
            path(
                "<int:invoice_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="billing_invoice_refund",
            ),
            *super().get_urls(),
        ]

    def refund_view(self, request, invoice_id):
        invoice = get_object_or_404(Invoice.objects.select_related("organization"), pk=invoice_id)
        initial = {"amount": Decimal(invoice.refundable) / 100}
        form = RefundForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                services.invoice_refund(
                    actor=Actor.for_user(request.user, ip=client_ip(request)),
                    invoice_id=invoice.pk,
                    amount=int(form.cleaned_data["amount"] * 100),
                    reason=form.cleaned_data["reason"],
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
    list_display = ["stripe_event_id", "type", "status", "attempts", "duplicates", "received_at"]
    list_filter = ["status", "type"]
    search_fields = ["stripe_event_id", "object_id", "type"]
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]
    actions = ["reprocess"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Handle again (re-reads current state from Stripe)")
    def reprocess(self, request, queryset):
        for event in queryset:
            try:
                webhook_event_process(event_id=event.pk)
            except Exception as exc:  # recorded on the event
                self.message_user(request, f"{event}: {exc}", messages.ERROR)
        self.message_user(request, "Done.")
