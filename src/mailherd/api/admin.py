from django.contrib import admin

from mailherd.api.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "organization", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["name", "prefix", "organization__name"]
    exclude = ["token_hash"]
    readonly_fields = ["prefix", "organization", "created_by", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False  # tokens are created where their plaintext can be shown once
