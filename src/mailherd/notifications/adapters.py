"""allauth adapters that apply the operator's branding to account emails and TOTP set-up.

Settings (owned by the project):
    ACCOUNT_ADAPTER = "mailherd.notifications.adapters.BrandedAccountAdapter"
    MFA_ADAPTER = "mailherd.notifications.adapters.BrandedMFAAdapter"
"""

import time

from allauth.mfa.adapter import DefaultMFAAdapter

from mailherd.tenancy.adapters import AccountAdapter


class BrandedEmailMixin:
    """Sender and subject prefix from the branding; every account email lands in the log."""

    def get_from_email(self):
        from mailherd.operator.selectors import branding_get

        return branding_get().email_from

    def format_email_subject(self, subject):
        from mailherd.operator.selectors import branding_get

        return f"[{branding_get().product_name}] {subject}"

    def send_mail(self, template_prefix, email, context):
        """As allauth's, with the product name as the site name ("Hello from Acme Mail!")."""
        from allauth.core import context as allauth_context
        from django.contrib.sites.requests import RequestSite

        from mailherd.operator.selectors import branding_get

        request = allauth_context.request
        site = RequestSite(request)
        site.name = branding_get().product_name
        message = self.render_mail(
            template_prefix,
            email,
            {"request": request, "email": email, "current_site": site, **context},
        )
        _send_logged(message, template=template_prefix.rsplit("/", 1)[-1])


def _send_logged(message, *, template: str) -> None:
    from mailherd.notifications.models import NotificationLog

    log = NotificationLog(
        to=", ".join(message.to), template=template, subject=message.subject[:255]
    )
    try:
        message.send()
    except Exception as exc:
        log.status, log.error = NotificationLog.Status.FAILED, str(exc)
        log.save()
        raise
    log.status = NotificationLog.Status.SENT
    log.save()


class BrandedAccountAdapter(BrandedEmailMixin, AccountAdapter):
    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """A sign-in a moment ago counts as recent: someone who just typed their password is
        not asked for it again ("Confirm access") before setting up an authenticator."""
        from allauth.account import app_settings
        from allauth.account.internal.flows.login import get_authentication_records

        required = super().is_reauthentication_required(app=app, **kwargs)
        request = getattr(self, "request", None)
        if not required or request is None or not request.user.is_authenticated:
            return required
        records = get_authentication_records(request, request.user)
        recent = [
            r
            for r in records
            if r.get("method") in app_settings.REAUTHENTICATION_METHODS
            and time.time() - r.get("at", 0) < app_settings.REAUTHENTICATION_TIMEOUT
        ]
        return not recent


class BrandedMFAAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are encrypted with the keys of every other secret."""

    def encrypt(self, text: str) -> str:
        from mailherd.core.crypto import encrypt

        return encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        from mailherd.core.crypto import decrypt

        return decrypt(encrypted_text)

    def get_totp_issuer(self):
        from mailherd.operator.selectors import branding_get

        return branding_get().product_name
