from django.contrib import admin

from mailherd.plans.models import Plan


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "price_monthly_cents",
        "max_domains",
        "max_mailboxes",
        "max_aliases",
        "max_storage_mb",
        "is_public",
        "is_retired",
        "sort_order",
    ]
    list_editable = ["sort_order"]
    list_filter = ["is_public", "is_retired"]
    prepopulated_fields = {"slug": ["name"]}
