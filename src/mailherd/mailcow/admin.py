from django import forms
from django.contrib import admin

from mailherd.mailcow.models import MailServer


class MailServerForm(forms.ModelForm):
    # The key is write-only: never rendered back into the page.
    api_key = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Leave empty to keep the current key.",
    )

    class Meta:
        model = MailServer
        fields = [
            "name", "api_url", "api_key", "hostname", "imap_host", "imap_port", "pop3_host", "pop3_port",
            "smtp_host", "smtp_port", "webmail_url", "capacity_mailboxes", "is_active",
        ]

    def clean_api_key(self):
        value = self.cleaned_data.get("api_key")
        if not value:
            if self.instance.pk:
                return self.instance.api_key
            raise forms.ValidationError("An API key is required.")
        return value


@admin.register(MailServer)
class MailServerAdmin(admin.ModelAdmin):
    form = MailServerForm
    list_display = [
        "name",
        "api_url",
        "is_active",
        "version",
        "capacity_mailboxes",
        "last_health_ok",
        "last_health_at",
    ]
    list_filter = ["is_active", "last_health_ok"]
    readonly_fields = [
        "version",
        "last_health_at",
        "last_health_ok",
        "last_health_error",
        "created_at",
    ]
