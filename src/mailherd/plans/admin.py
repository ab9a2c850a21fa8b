from decimal import Decimal

from django import forms
from django.contrib import admin
from django.db.models import Count

from mailherd.core.actors import Actor, client_ip
from mailherd.core.units import mib_human, money
from mailherd.plans.models import Plan, offered_feature_choices


class PlanForm(forms.ModelForm):
    """Prices are typed in the currency (9.00), kept in cents; storage in MiB, shown in GiB too."""

    monthly_price = forms.DecimalField(
        min_value=0, decimal_places=2, initial=0, help_text="In the plan's currency, e.g. 9.00"
    )
    yearly_price = forms.DecimalField(
        min_value=0,
        decimal_places=2,
        initial=0,
        help_text="In the plan's currency; 0: no yearly price",
    )
    features = forms.MultipleChoiceField(
        choices=offered_feature_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Parts of the portal, API and MCP that organizations on this plan can use.",
    )

    class Meta:
        model = Plan
        fields = [
            "name",
            "slug",
            "description",
            "sort_order",
            "currency",
            "trial_days",
            "max_domains",
            "max_mailboxes",
            "max_aliases",
            "max_storage_mb",
            "mailbox_rate_limit",
            "mailbox_rate_frame",
            "domain_rate_limit",
            "domain_rate_frame",
            "features",
            "is_public",
            "is_retired",
            "stripe_product_id",
            "stripe_price_id",
        ]
        help_texts = {"max_storage_mb": "Total for all mailboxes, in MiB (10240 MiB = 10 GiB)"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            cent = Decimal("0.01")
            self.initial["monthly_price"] = (
                Decimal(self.instance.price_monthly_cents) * cent
            ).quantize(cent)
            self.initial["yearly_price"] = (
                Decimal(self.instance.price_yearly_cents) * cent
            ).quantize(cent)

    def save(self, commit=True):
        self.instance.price_monthly_cents = int(self.cleaned_data["monthly_price"] * 100)
        self.instance.price_yearly_cents = int(self.cleaned_data["yearly_price"] * 100)
        return super().save(commit)


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    """Plans. A plan that organizations use cannot be deleted, only retired (no longer sold)."""

    form = PlanForm
    list_display = [
        "name",
        "slug",
        "monthly_price",
        "yearly_price",
        "max_domains",
        "max_mailboxes",
        "max_aliases",
        "storage",
        "is_public",
        "is_retired",
        "organization_count",
        "sort_order",
    ]
    list_editable = ["sort_order"]
    list_filter = ["is_public", "is_retired"]
    prepopulated_fields = {"slug": ["name"]}
    actions = ["retire_selected", "unretire_selected", "create_in_stripe"]
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "sort_order")}),
        (
            "Prices",
            {"fields": ("monthly_price", "yearly_price", "currency", "trial_days")},
        ),
        ("Limits", {"fields": ("max_domains", "max_mailboxes", "max_aliases", "max_storage_mb")}),
        (
            "Sending limits",
            {
                "fields": (
                    ("mailbox_rate_limit", "mailbox_rate_frame"),
                    ("domain_rate_limit", "domain_rate_frame"),
                ),
                "description": "Defaults for every mailbox and domain; customers may set lower ones.",
            },
        ),
        ("Features", {"fields": ("features",)}),
        ("Availability", {"fields": ("is_public", "is_retired")}),
        ("Stripe", {"fields": ("stripe_product_id", "stripe_price_id"), "classes": ("collapse",)}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_organizations=Count("organizations"))

    @admin.display(description="Monthly price", ordering="price_monthly_cents")
    def monthly_price(self, obj):
        return money(obj.price_monthly_cents, obj.currency)

    @admin.display(description="Yearly price", ordering="price_yearly_cents")
    def yearly_price(self, obj):
        return money(obj.price_yearly_cents, obj.currency)

    @admin.display(description="Storage", ordering="max_storage_mb")
    def storage(self, obj):
        return mib_human(obj.max_storage_mb)

    @admin.display(description="Organizations", ordering="_organizations")
    def organization_count(self, obj):
        return obj._organizations

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop(
            "delete_selected", None
        )  # deletion one by one, where has_delete_permission decides
        return actions

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.organizations.exists():
            return False
        return super().has_delete_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        plan = self.get_object(request, object_id)
        if plan is not None and plan.organizations.exists():
            extra_context = {
                **(extra_context or {}),
                "subtitle": f"In use by {plan.organizations.count()} organization(s): retire it instead of deleting.",
            }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Create in Stripe (product and monthly price, linked to the plan)")
    def create_in_stripe(self, request, queryset):
        from django.contrib import messages

        from mailherd.billing import services as billing
        from mailherd.core.errors import MailherdError

        actor = Actor.for_user(request.user, ip=client_ip(request))
        for plan in queryset:
            try:
                linked = bool(plan.stripe_price_id)
                plan = billing.plan_stripe_link(actor=actor, plan=plan)
                if linked:
                    plan = billing.plan_stripe_price_update(actor=actor, plan=plan)
            except MailherdError as exc:
                self.message_user(request, f"{plan}: {exc.message}", messages.ERROR)
            else:
                self.message_user(
                    request, f"{plan}: linked to Stripe price {plan.stripe_price_id}."
                )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and obj.stripe_price_id and "monthly_price" in form.changed_data:
            # Stripe prices cannot change: a new one for new subscriptions, after the commit
            # (never call Stripe inside the transaction); existing ones keep theirs.
            from django.contrib import messages
            from django.db import transaction

            from mailherd.billing import services as billing
            from mailherd.core.errors import MailherdError

            actor = Actor.for_user(request.user, ip=client_ip(request))

            def new_price():
                try:
                    plan = billing.plan_stripe_price_update(actor=actor, plan=obj)
                except MailherdError as exc:
                    self.message_user(
                        request, f"Stripe price not updated: {exc.message}", messages.ERROR
                    )
                else:
                    self.message_user(
                        request,
                        f"New Stripe price {plan.stripe_price_id} for new subscriptions; "
                        "existing subscriptions keep their price until their plan is changed.",
                    )

            transaction.on_commit(new_price)

    @admin.action(description="Retire the selected plans (kept for their customers, not sold)")
    def retire_selected(self, request, queryset):
        from mailherd.operator.services import plan_retire

        actor = Actor.for_user(request.user, ip=client_ip(request))
        for plan in queryset:
            plan_retire(actor=actor, plan_id=plan.pk, retired=True)
        self.message_user(request, f"{queryset.count()} plan(s) retired.")

    @admin.action(description="Sell the selected plans again")
    def unretire_selected(self, request, queryset):
        from mailherd.operator.services import plan_retire

        actor = Actor.for_user(request.user, ip=client_ip(request))
        for plan in queryset:
            plan_retire(actor=actor, plan_id=plan.pk, retired=False)
        self.message_user(request, f"{queryset.count()} plan(s) on sale again.")
