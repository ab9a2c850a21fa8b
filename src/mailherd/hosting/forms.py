from django import forms


class DomainForm(forms.Form):
    name = forms.CharField(
        label="Domain name",
        required=False,
        help_text="e.g. example.com — international names are fine",
    )


class DomainDeleteForm(forms.Form):
    confirm = forms.CharField(label="Type the domain name to confirm", required=False)


class MailboxCreateForm(forms.Form):
    local_part = forms.CharField(label="Address", required=False)
    domain = forms.ChoiceField(label="Domain")
    name = forms.CharField(label="Display name", required=False)
    quota_mb = forms.IntegerField(
        label="Storage (MiB)",
        required=False,
        min_value=1,
        help_text="In MiB: 1024 MiB = 1 GiB. Leave empty for the plan's default.",
    )
    password = forms.CharField(
        label="Password",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to generate a strong one (shown once).",
    )

    def __init__(self, *args, domains=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["domain"].choices = [(d.name, d.unicode_name) for d in domains]


class MailboxEditForm(forms.Form):
    name = forms.CharField(label="Display name", required=False)
    quota_mb = forms.IntegerField(
        label="Storage (MiB)", min_value=1, help_text="In MiB: 1024 MiB = 1 GiB."
    )
    enabled = forms.BooleanField(label="Enabled (can sign in and receive mail)", required=False)


class PasswordForm(forms.Form):
    password = forms.CharField(
        label="New password",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to generate one (shown once).",
    )


class AliasForm(forms.Form):
    address = forms.CharField(
        label="Alias address", required=False, help_text="name@domain, or @domain for a catch-all"
    )
    goto = forms.CharField(
        label="Deliver to",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One or more addresses, separated by commas or new lines.",
    )
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)


class MailboxImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        required=False,
        help_text=(
            "A header row, then one mailbox per row. Columns: address (required), name, quota_mb"
            " (in MiB), password (empty: one is generated and shown in the report)."
        ),
    )
class RateLimitForm(forms.Form):
    use_plan = forms.BooleanField(label="Use the plan's default", required=False)
    value = forms.IntegerField(label="Messages", required=False, min_value=1)
    frame = forms.ChoiceField(
        label="Per",
        choices=[("s", "second"), ("m", "minute"), ("h", "hour"), ("d", "day")],
        initial="h",
    )

    def rate_limit(self):
        """The service's input: None for the plan's default, else {"value", "frame"}."""
        data = self.cleaned_data
        if data.get("use_plan"):
            return None
        return {"value": data.get("value"), "frame": data.get("frame")}

    @classmethod
    def for_object(cls, obj, data=None):
        return cls(
            data,
            initial={
                "use_plan": obj.rate_limit is None,
                "value": obj.rate_limit,
                "frame": obj.rate_frame or "h",
            },
        )


class SyncJobForm(forms.Form):
    mailbox = forms.ChoiceField(label="Import into")
    host = forms.CharField(label="Old server", help_text="e.g. imap.oldprovider.com", required=False)
    security = forms.ChoiceField(
        label="Security",
        choices=[("ssl", "SSL/TLS (port 993)"), ("starttls", "STARTTLS (port 143)"), ("plain", "None")],
    )
    port = forms.IntegerField(label="Port", required=False, help_text="Leave empty for the usual one")
    user = forms.CharField(label="User name on the old server", required=False)
    password = forms.CharField(
        label="Password on the old server",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Kept encrypted while the import exists, deleted with it.",
    )

    def __init__(self, *args, mailboxes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mailbox"].choices = [(m.address, m.address) for m in mailboxes]
