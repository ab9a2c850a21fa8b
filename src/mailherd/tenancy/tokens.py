"""One-time sign-in links: Django's password-reset token with its own salt.

Nothing is stored, and a token stops working once used, because signing in changes
`last_login`, which the token hashes.
"""

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator


class _SignInLinkTokens(PasswordResetTokenGenerator):
    key_salt = "mailherd.tenancy.tokens.SignInLinkTokens"


sign_in_tokens = _SignInLinkTokens()


def sign_in_link_days() -> int:
    return max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)
