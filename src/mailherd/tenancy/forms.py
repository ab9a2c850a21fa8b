"""The sign-up form's own fields (allauth's ACCOUNT_SIGNUP_FORM_CLASS): a name, and the username of the
platform address when the operator gives one (hosting.services.platform)."""

from django import forms

from mailherd.core.errors import ValidationFailed


class SignupForm(forms.Form):
    full_name = forms.CharField(label="Your name", max_length=150, required=False)
    mail_username = forms.CharField(
        label="Your email address with us", max_length=40, required=False,
        help_text="Optional: the part before the @. Paid plans include this address; we pick one from your name otherwise.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from mailherd.hosting.services.platform import platform_domain_get

        domain = platform_domain_get()
        if domain is None:
            del self.fields["mail_username"]
        else:
            self.fields["mail_username"].help_text = (
                f"Optional: the part before @{domain.unicode_name}. Paid plans include this address;"
                " we pick one from your name otherwise."
            )

    def clean_mail_username(self) -> str:
        from mailherd.hosting.services.platform import platform_username_check

        value = self.cleaned_data.get("mail_username", "")
        if not value:
            return ""
        try:
            return platform_username_check(value)
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.message)

    def signup(self, request, user) -> None:
        user.full_name = " ".join(self.cleaned_data.get("full_name", "").split())
        user.mail_username = self.cleaned_data.get("mail_username", "")
        user.save(update_fields=["full_name", "mail_username"])
