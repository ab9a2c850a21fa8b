from django import forms

from mailherd.tenancy.models import Role


class OrganizationForm(forms.Form):
    # No max_length here: the service owns the rule and says it clearly.
    name = forms.CharField(label="Organization name", strip=True, required=False)


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        required=False,
        help_text="What will use it, e.g. “billing sync script”.",
    )
    access = forms.ChoiceField(
        label="Access",
        choices=[
            ("full", "Full access"),
            ("read", "Read only"),
            ("custom", "Chosen resources (below)"),
        ],
        initial="full",
        widget=forms.RadioSelect,
    )
    scopes = forms.MultipleChoiceField(
        label="Resources (for “Chosen resources”)",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Write includes read of the same resource.",
    )
    expires_in = forms.ChoiceField(
        label="Expires",
        choices=[("", "Never"), ("7", "In 7 days"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")],
        required=False,
        initial="90",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from mailherd.api.scopes import api_resources

        self.fields["scopes"].choices = [
            (f"{resource}:{action}", f"{resource.replace('_', ' ')}: {action}")
            for resource in api_resources()
            for action in ("read", "write")
        ]

    def chosen_scopes(self) -> list[str] | None:
        from mailherd.api.scopes import FULL_ACCESS, READ_ONLY

        access = self.cleaned_data["access"]
        if access == "read":
            return list(READ_ONLY)
        if access == "custom":
            return list(self.cleaned_data["scopes"])  # empty: the service says what is missing
        return list(FULL_ACCESS)

    def expires_at(self):
        from datetime import timedelta

        from django.utils import timezone

        days = self.cleaned_data.get("expires_in")
        return timezone.now() + timedelta(days=int(days)) if days else None
