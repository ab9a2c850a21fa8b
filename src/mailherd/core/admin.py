import csv

from django.contrib import admin
from django.http import StreamingHttpResponse

from mailherd.core.models import AuditEvent

CSV_COLUMNS = [
    "created_at",
    "organization",
    "actor_kind",
    "actor_label",
    "action",
    "object_type",
    "object_repr",
    "ip",
    "data",
]


class _Echo:
    def write(self, value):
        return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading quote.

    Organization, token and provider names are the customer's choice (OWASP "CSV injection").
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def audit_csv_rows(events):
    """Yield CSV lines for `events` (header first): shared by the back office and the portal."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for event in events.select_related("organization").iterator(chunk_size=1000):
        yield writer.writerow(
            csv_cell(cell)
            for cell in [
                event.created_at.isoformat(),
                event.organization.name if event.organization else "",
                event.actor_kind,
                event.actor_label,
                event.action,
                event.object_type,
                event.object_repr,
                event.ip or "",
                event.data,
            ]
        )


def audit_csv_response(events, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(audit_csv_rows(events), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Every change, read-only. "Export CSV" exports the whole filtered list, not just a page."""

    list_display = [
        "created_at",
        "actor_label",
        "actor_kind",
        "action",
        "object_repr",
        "organization",
        "ip",
    ]
    list_filter = [
        "actor_kind",
        "action",
        "created_at",
        ("organization", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["actor_label", "object_repr", "action", "organization__name", "ip"]
    list_select_related = ["organization"]
    date_hierarchy = "created_at"
    change_list_template = "operator/auditevent_change_list.html"
    actions = ["export_csv"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Export the selected events as CSV")
    def export_csv(self, request, queryset):
        return audit_csv_response(queryset.order_by("-created_at"), "audit.csv")

    def changelist_view(self, request, extra_context=None):
        if request.GET.get("export") == "csv":
            # The same filters, search and date drill-down as the page, minus our own parameter.
            request.GET = request.GET.copy()
            del request.GET["export"]
            changelist = self.get_changelist_instance(request)
            return audit_csv_response(changelist.get_queryset(request), "audit.csv")
        return super().changelist_view(request, extra_context)
