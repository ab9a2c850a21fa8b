"""Back office: the blocklists the operator checks, what they say about each server's IPs, and the
customers' reports (read-only)."""

from django.contrib import admin, messages

from mailherd.deliverability.models import Alert, Blocklist, BlocklistResult, Report, ReportRefusal


@admin.register(Blocklist)
class BlocklistAdmin(admin.ModelAdmin):
    list_display = ["zone", "name", "enabled", "created_at"]
    list_editable = ["enabled"]
    search_fields = ["zone", "name"]


@admin.register(BlocklistResult)
class BlocklistResultAdmin(admin.ModelAdmin):
    list_display = ["server", "ip", "blocklist", "status", "answer", "listed_since", "checked_at"]
    list_filter = ["status", "blocklist", "server"]
    search_fields = ["ip", "server__name", "blocklist__zone"]
    list_select_related = ["server", "blocklist"]
    readonly_fields = [f.name for f in BlocklistResult._meta.fields]
    actions = ["check_again"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Check every server against the blocklists now")
    def check_again(self, request, queryset):
        from mailherd.deliverability.blocklists import blocklists_check

        results = blocklists_check()
        listed = sum(1 for r in results if r.status == BlocklistResult.Status.LISTED)
        self.message_user(
            request,
            f"{len(results)} checks, {listed} listed.",
            messages.WARNING if listed else messages.SUCCESS,
        )


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = [
        "domain",
        "organization",
        "kind",
        "reporter",
        "begin",
        "messages",
        "failed",
        "received_via",
    ]
    list_filter = ["kind", "received_via"]
    search_fields = ["domain__name", "reporter", "report_id"]
    list_select_related = ["domain", "organization"]
    readonly_fields = [f.name for f in Report._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(ReportRefusal)
class ReportRefusalAdmin(admin.ModelAdmin):
    list_display = ["organization", "domain", "filename", "code", "received_via", "received_at"]
    list_filter = ["code", "received_via"]
    readonly_fields = [f.name for f in ReportRefusal._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["domain", "organization", "kind", "created_at", "notified_at", "dismissed_at"]
    list_filter = ["kind"]
    search_fields = ["domain__name", "message"]
    readonly_fields = [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request):
        return False
