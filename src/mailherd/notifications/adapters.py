"""allauth adapters that apply the operator's branding to account emails and TOTP set-up.

Settings (owned by the project):
    ACCOUNT_ADAPTER = "mailherd.notifications.adapters.BrandedAccountAdapter"
    MFA_ADAPTER = "mailherd.notifications.adapters.BrandedMFAAdapter"
"""

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
    pass


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
