from django import forms

from mailherd.webmail.models import OrganizationWebmail


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
