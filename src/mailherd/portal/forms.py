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
