from django.contrib import admin

from mailherd.core.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_label", "action", "object_repr", "organization", "ip"]
    list_filter = ["actor_kind", "action"]
    search_fields = ["actor_label", "object_repr", "organization__name"]
    list_select_related = ["organization"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
