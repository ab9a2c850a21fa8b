from django.contrib import admin

from mailherd.notifications.models import NotificationLog


@admin.register(NotificationLog)
class NotificationLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "to", "template", "subject", "organization", "status"]
    list_filter = ["status", "template"]
    search_fields = ["to", "subject", "organization__name"]

    def has_add_permission(self, request):
        return False
