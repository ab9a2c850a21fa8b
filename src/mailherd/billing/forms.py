from django import forms


class CardConfirmForm(forms.Form):
    """What the card page posts back after Stripe.js confirmed the SetupIntent."""

    setup_intent = forms.RegexField(regex=r"^seti_\w+$", widget=forms.HiddenInput)
    plan = forms.SlugField(required=False, widget=forms.HiddenInput)


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        min_value=0.01, decimal_places=2, help_text="Leave the full amount for a full refund."
    )
    reason = forms.CharField(max_length=255, required=False)
