"""Back office: DNS health across all customers (regressions first), history and provider access."""

from django.contrib import admin
from django.utils.html import format_html_join

from mailherd.dns.models import (
    DmarcStage,
    DnsCheck,
    DnsProviderAccount,
    DnsPush,
    DnsRegression,
    DnsSettings,
)


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(DnsRegression)
class DnsRegressionAdmin(admin.ModelAdmin):
    list_display = [
        "domain",
        "organization",
        "record_type",
        "record_name",
        "status",
        "detected_at",
        "notified_at",
        "resolved_at",
    ]
    list_filter = [OpenFilter, "status", "record_type"]
    search_fields = ["domain__name", "organization__name", "record_name"]
    date_hierarchy = "detected_at"
    list_select_related = ["domain", "organization"]
    readonly_fields = [f.name for f in DnsRegression._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(DnsCheck)
class DnsCheckAdmin(admin.ModelAdmin):
    list_display = [
        "domain",
        "organization",
        "checked_at",
        "trigger",
        "ok_count",
        "problem_count",
        "unknown_count",
        "duration_ms",
    ]
    list_filter = ["trigger"]
    search_fields = ["domain__name", "organization__name"]
    date_hierarchy = "checked_at"
    list_select_related = ["domain", "organization"]
    exclude = ["results"]
    readonly_fields = [
        "domain",
        "organization",
        "checked_at",
        "trigger",
        "ok_count",
        "problem_count",
        "unknown_count",
        "duration_ms",
        "result_table",
    ]

    @admin.display(description="results")
    def result_table(self, obj):
        return format_html_join(
            "\n",
            "<div><strong>{}</strong> {} {} — expected <code>{}</code>, found <code>{}</code> {}</div>",
            (
                (
                    r.get("status"),
                    r.get("type"),
                    r.get("name"),
                    r.get("expected"),
                    " | ".join(r.get("found") or []),
                    r.get("detail", ""),
                )
                for r in obj.results
            ),
        )

    def has_add_permission(self, request):
        return False


@admin.register(DnsSettings)
class DnsSettingsAdmin(admin.ModelAdmin):
    list_display = ["domain", "dmarc_policy", "dmarc_pct", "mta_sts_mode", "provider_account"]
    search_fields = ["domain__name"]
    raw_id_fields = ["domain", "provider_account"]


@admin.register(DmarcStage)
class DmarcStageAdmin(admin.ModelAdmin):
    list_display = ["domain", "policy", "pct", "starts_at", "applied_at"]
    search_fields = ["domain__name"]
    raw_id_fields = ["domain"]


@admin.register(DnsProviderAccount)
class DnsProviderAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "provider", "created_at"]
    search_fields = ["name", "organization__name"]
    exclude = ["options"]  # encrypted credentials are never shown
    readonly_fields = ["organization", "name", "provider", "created_at"]

    def has_add_permission(self, request):
        return False


@admin.register(DnsPush)
class DnsPushAdmin(admin.ModelAdmin):
    list_display = ["domain", "account", "actor_label", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["domain__name"]
    readonly_fields = [
        "domain",
        "account",
        "actor_label",
        "changes",
        "status",
        "error",
        "created_at",
    ]

    def has_add_permission(self, request):
        return False
