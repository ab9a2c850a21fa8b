from django import forms
from django.contrib import admin
from django.shortcuts import redirect
from django.utils.html import format_html

from mailherd.core.actors import Actor, client_ip
from mailherd.core.errors import MailherdError
from mailherd.operator.models import Branding, FeatureSwitch
from mailherd.operator.selectors import SWITCHES
from mailherd.operator.services import (
    branding_logo_set,
    branding_update,
    feature_switch_rows_ensure,
    feature_switch_set,
)


class BrandingForm(forms.ModelForm):
    logo_upload = forms.FileField(
        required=False, label="Logo", help_text="PNG, SVG, JPEG, WebP or GIF, at most 512 KiB."
    )
    logo_remove = forms.BooleanField(required=False, label="Remove the uploaded logo")

    class Meta:
        model = Branding
        fields = [
            "product_name",
            "tagline",
            "logo_url",
            "primary_color",
            "primary_dark_color",
            "support_email",
            "support_url",
            "terms_url",
            "privacy_url",
            "imprint_url",
            "email_from_name",
            "email_from_address",
            "portal_url",
            "webmail_url",
            "imap_hostname",
            "smtp_hostname",
            "verification_word",
        ]
        widgets = {
            "primary_color": forms.TextInput(attrs={"type": "color"}),
            "primary_dark_color": forms.TextInput(attrs={"type": "color"}),
        }

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("logo_upload")
        if upload:
            try:
                branding_logo_set(
                    branding=self.instance, content=upload.read(), content_type=upload.content_type
                )
            except MailherdError as exc:
                self.add_error("logo_upload", exc.message)
        elif cleaned.get("logo_remove"):
            self.instance.logo = None
            self.instance.logo_content_type = ""
        return cleaned


@admin.register(Branding)
class BrandingAdmin(admin.ModelAdmin):
    """One row: the list page opens it directly; saved through `branding_update` (cache cleared)."""

    form = BrandingForm
    readonly_fields = ["logo_preview", "updated_at"]
    fieldsets = (
        (
            "Product",
            {
                "fields": (
                    "product_name",
                    "tagline",
                    "logo_preview",
                    "logo_upload",
                    "logo_remove",
                    "logo_url",
                )
            },
        ),
        ("Colours", {"fields": ("primary_color", "primary_dark_color")}),
        (
            "Support and legal",
            {"fields": ("support_email", "support_url", "terms_url", "privacy_url", "imprint_url")},
        ),
        ("Email sender", {"fields": ("email_from_name", "email_from_address")}),
        (
            "Public host names shown to customers",
            {"fields": ("portal_url", "webmail_url", "imap_hostname", "smtp_hostname")},
        ),
        ("Domain ownership record", {"fields": ("verification_word",)}),
        (None, {"fields": ("updated_at",)}),
    )

    def has_add_permission(self, request):
        return not Branding.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        branding = Branding.objects.filter(pk=1).first()
        if branding is None:
            return redirect("admin:operator_branding_add")
        return redirect("admin:operator_branding_change", branding.pk)

    @admin.display(description="Current logo")
    def logo_preview(self, obj):
        if obj and obj.logo_src:
            return format_html('<img src="{}" alt="logo" style="max-height:3rem">', obj.logo_src)
        return "None: the product name is shown."

    def save_model(self, request, obj, form, change):
        branding_update(
            actor=Actor.for_user(request.user, ip=client_ip(request)),
            branding=obj,
            changed=form.changed_data,
        )


class FeatureSwitchForm(forms.ModelForm):
    name = forms.ChoiceField(choices=[(name, name) for name in SWITCHES])

    class Meta:
        model = FeatureSwitch
        fields = ["name", "enabled", "note"]


@admin.register(FeatureSwitch)
class FeatureSwitchAdmin(admin.ModelAdmin):
    form = FeatureSwitchForm
    list_display = ["name", "enabled", "note", "updated_at"]

    def save_model(self, request, obj, form, change):
        switch = feature_switch_set(
            actor=Actor.for_user(request.user, ip=client_ip(request)),
            name=obj.name,
            enabled=obj.enabled,
            note=obj.note,
        )
        obj.pk = switch.pk

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        # Every switch is listed, set or not (the dashboard shows them all too).
        feature_switch_rows_ensure()
        return super().changelist_view(request, extra_context)
