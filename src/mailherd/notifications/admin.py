from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html

from mailherd.core.actors import Actor, client_ip
from mailherd.notifications.models import Announcement, NotificationLog
from mailherd.notifications.selectors import markdown_render


@admin.register(NotificationLog)
class NotificationLogAdmin(admin.ModelAdmin):
    """Every email sent: searchable, filterable, and resendable from the same template."""

    list_display = [
        "created_at",
        "to",
        "template",
        "subject",
        "organization",
        "status",
        "error_short",
    ]
    list_filter = [
        "status",
        "template",
        "created_at",
        ("organization", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["to", "subject", "template", "organization__name", "error"]
    list_select_related = ["organization"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "to", "template", "subject", "organization", "status", "error"]
    exclude = ["context"]  # sealed: may hold invitation links
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Error")
    def error_short(self, obj):
        return obj.error[:80]

    @admin.action(description="Resend the selected emails")
    def resend(self, request, queryset):
        from mailherd.notifications.services import notification_resend

        actor = Actor.for_user(request.user, ip=client_ip(request))
        results = [notification_resend(actor=actor, log_id=log.pk) for log in queryset]
        sent = sum(1 for log in results if log.status == NotificationLog.Status.SENT)
        self.message_user(request, f"Resent {sent} of {len(results)} email(s).")


class AnnouncementForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.fields["starts_at"].initial = timezone.now  # shown from now unless set otherwise

    class Meta:
        model = Announcement
        fields = [
            "title",
            "body",
            "severity",
            "audience",
            "plans",
            "starts_at",
            "ends_at",
            "dismissible",
            "send_email",
        ]
        widgets = {"plans": forms.CheckboxSelectMultiple}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("audience") == Announcement.Audience.PLANS and not cleaned.get("plans"):
            self.add_error("plans", "Choose at least one plan, or show it to everyone.")
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", "The end must be after the start.")
        return cleaned


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    form = AnnouncementForm
    list_display = [
        "title",
        "severity",
        "audience",
        "starts_at",
        "ends_at",
        "dismissible",
        "send_email",
        "emailed_at",
    ]
    list_filter = ["severity", "audience", "send_email"]
    search_fields = ["title", "body"]
    readonly_fields = ["preview", "emailed_at", "created_at"]
    actions = ["send_email_now"]
    fields = [
        "title",
        "body",
        "preview",
        "severity",
        "audience",
        "plans",
        "starts_at",
        "ends_at",
        "dismissible",
        "send_email",
        "emailed_at",
        "created_at",
    ]

    @admin.display(description="Preview")
    def preview(self, obj):
        if obj is None or not obj.body:
            return "Save to preview the rendered text."
        return format_html('<div style="max-width:40rem">{}</div>', markdown_render(obj.body))

    @admin.action(description="Email the selected announcements now (once each)")
    def send_email_now(self, request, queryset):
        from mailherd.notifications.services import announcement_email_send

        sent = sum(announcement_email_send(announcement_id=a.pk) for a in queryset)
        self.message_user(
            request, f"{sent} email(s) sent. Announcements already emailed were skipped."
        )
