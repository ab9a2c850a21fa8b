from django import forms
from oauth2_provider.forms import AllowForm

ACCESS_CHOICES = [
    ("full", "Read and change everything the agent's tools can reach"),
    ("read", "Read only"),
]


class AgentAllowForm(AllowForm):
    """The consent page for an AI agent: which organization it works for, and how much it may do."""

    organization = forms.ChoiceField(label="Organization")
    access = forms.ChoiceField(
        label="Access", choices=ACCESS_CHOICES, initial="full", widget=forms.RadioSelect
    )

    def __init__(self, *args, memberships=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.memberships = {str(m.organization_id): m for m in memberships}
        self.fields["organization"].choices = [
            (key, m.organization.name) for key, m in self.memberships.items()
        ]

    def clean_resource(self):
        from mailherd.mcp.oauth import mcp_resource_url

        resources = (self.cleaned_data.get("resource") or "").split()
        if any(r.rstrip("/") != mcp_resource_url() for r in resources):
            raise forms.ValidationError("This server only issues tokens for its MCP endpoint.")
        return self.cleaned_data.get("resource")

    def agent_choice(self) -> dict:
        from mailherd.api.scopes import FULL_ACCESS, READ_ONLY

        access = self.cleaned_data["access"]
        return {
            "organization_id": int(self.cleaned_data["organization"]),
            "scopes": list(READ_ONLY if access == "read" else FULL_ACCESS),
        }
