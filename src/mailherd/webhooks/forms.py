from django import forms

from mailherd.webhooks.events import EVENT_TYPES


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=2000,
        help_text="An HTTPS address on the public internet that accepts POSTed JSON.",
        widget=forms.URLInput(
            attrs={"placeholder": "https://hooks.example.com/mail", "autocomplete": "off"}
        ),
    )
    description = forms.CharField(label="Description", max_length=200, required=False)
    events = forms.MultipleChoiceField(
        label="Events to send",
        choices=[(name, f"{name} — {text}") for name, text in EVENT_TYPES.items()],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one event type."},
    )
