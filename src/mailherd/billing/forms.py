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
    # One nonce per rendered form: submitting it twice refunds once.
    key = forms.RegexField(regex=r"^[0-9a-f]{32}$", widget=forms.HiddenInput)


PRORATION_CHOICES = [
    (
        "create_prorations",
        "Prorate: credit the unused time, charge the difference on the next invoice",
    ),
    ("always_invoice", "Prorate and invoice the difference now"),
    ("none", "No proration: the new price applies from the next period"),
]


class ProrationForm(forms.Form):
    proration = forms.ChoiceField(
        choices=PRORATION_CHOICES,
        initial="create_prorations",
        widget=forms.RadioSelect,
        help_text="Only for organizations that pay through Stripe.",
    )


class ManualInvoiceForm(forms.Form):
    amount = forms.DecimalField(
        min_value=0.01, decimal_places=2, help_text="In the plan's currency"
    )
    description = forms.CharField(max_length=255, required=False)
    due_on = forms.DateField(
        required=False,
        label="Due date",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Overdue after this day. Blank: the billing settings' payment term from today",
    )


class PaymentForm(forms.Form):
    reference = forms.CharField(
        max_length=255, required=False, help_text="Bank transfer reference, cheque number…"
    )


class BillingSettingsForm(forms.Form):
    """Every field blank = the environment's default (shown as the placeholder)."""

    retry_days = forms.CharField(required=False, max_length=100)
    grace_days = forms.IntegerField(required=False, min_value=0, max_value=365)
    reminder_day = forms.IntegerField(required=False, min_value=0, max_value=365)
    final_notice_day = forms.IntegerField(required=False, min_value=0, max_value=365)
    deactivate_days = forms.IntegerField(required=False, min_value=0, max_value=3650)
    delete_days = forms.IntegerField(required=False, min_value=1, max_value=3650)
    deletion_warning_days = forms.CharField(required=False, max_length=100)
    manual_invoice_due_days = forms.IntegerField(required=False, min_value=0, max_value=365)

    LABELS = {
        "retry_days": "Payment retry days (after the first failure)",
        "grace_days": "Suspend mail after (days)",
        "reminder_day": "Reminder email on day",
        "final_notice_day": "Final notice email on day",
        "deactivate_days": "Deactivate mailboxes and domains (days after the suspension)",
        "delete_days": "Delete mail data (days after the suspension)",
        "deletion_warning_days": "Deletion warnings (days before the deletion)",
        "manual_invoice_due_days": "Manual invoices: payment term (days)",
    }

    def __init__(self, *args, defaults=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.label = self.LABELS[name]
            if defaults and name in defaults:
                field.widget.attrs["placeholder"] = str(defaults[name])
                field.help_text = f"Blank: {defaults[name]} (environment default)"
