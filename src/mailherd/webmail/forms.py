from django import forms

from mailherd.webmail.models import AppPassword, OrganizationWebmail


class SignInForm(forms.Form):
    mode = forms.ChoiceField(
        label="How mailboxes sign in",
        choices=OrganizationWebmail.SignInMode.choices,
        widget=forms.RadioSelect,
    )
    require_two_factor = forms.BooleanField(
        label="Opening webmail needs two-factor sign-in to this portal",
        required=False,
        help_text="Recommended: the mail server skips its own two-factor step for these sign-ins.",
    )


class MailboxUserForm(forms.Form):
    user = forms.ChoiceField(label="Used by", required=False)
    sso = forms.BooleanField(
        label="Single sign-on (webmail from the portal; mail apps use app passwords)",
        required=False,
    )

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [("", "Nobody")] + [
            (m.user.email, m.user.email) for m in members
        ]


class AppPasswordForm(forms.Form):
    name = forms.CharField(
        label="App or device", max_length=60, help_text="e.g. Thunderbird on my laptop"
    )
    protocols = forms.MultipleChoiceField(
        label="It may use",
        choices=list(AppPassword.PROTOCOLS.items()),
        initial=["imap", "smtp"],
        widget=forms.CheckboxSelectMultiple,
    )


class OwnPasswordForm(forms.Form):
    password = forms.CharField(label="New password", widget=forms.PasswordInput(render_value=False))
    password2 = forms.CharField(label="Repeat it", widget=forms.PasswordInput(render_value=False))

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return data


class AutoReplyForm(forms.Form):
    enabled = forms.BooleanField(label="Send an out-of-office reply", required=False)
    subject = forms.CharField(label="Subject", max_length=200, required=False)
    message = forms.CharField(
        label="Reply", widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    starts_on = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(
        label="Until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class ForwardingForm(forms.Form):
    targets = forms.CharField(
        label="Forward to",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One address per line, up to five. Leave empty to stop forwarding.",
    )
    keep_copy = forms.BooleanField(
        label="Keep a copy in this mailbox", required=False, initial=True
    )


class ProtocolsForm(forms.Form):
    def __init__(self, *args, **kwargs):
        from mailherd.webmail.selfservice import PROTOCOLS

        super().__init__(*args, **kwargs)
        for name, label in PROTOCOLS.items():
            self.fields[name] = forms.BooleanField(label=label, required=False)


class SpamLevelForm(forms.Form):
    level = forms.ChoiceField(label="Spam filter", widget=forms.RadioSelect)

    def __init__(self, *args, custom: str = "", **kwargs):
        from mailherd.webmail.selfservice import SPAM_LEVEL_NAMES

        super().__init__(*args, **kwargs)
        choices = list(SPAM_LEVEL_NAMES.items())
        if custom:
            choices.append(("custom", custom))
        self.fields["level"].choices = choices
