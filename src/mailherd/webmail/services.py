"""Writes for webmail sign-in: the OpenID client of each Mailcow server, mailbox grants."""

import secrets

from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import get_application_model

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import ValidationFailed
from mailherd.webmail.models import MailboxGrant, SsoClient

# Mailcow re-applies a mailbox template whenever a userinfo claim matches a mapper, and
# crashes on login when no mapper is configured at all. This value is never emitted.
SENTINEL_MAPPER = "mailherd-never-emitted-"
SCOPES = "openid profile email"


def _clean_webmail_url(url: str) -> str:
    from urllib.parse import urlsplit

    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ValidationFailed(
            "The webmail URL must be Mailcow's web address, like https://mail.example.net.",
            field="webmail_url",
        )
    if parts.path not in ("", "/"):
        raise ValidationFailed(
            "The webmail URL is Mailcow's own address without a path (Mailcow adds /?iam_sso=1).",
            field="webmail_url",
        )
    return url


@transaction.atomic
def sso_client_register(
    *, actor: Actor, mail_server, webmail_url: str, rotate_secret: bool = False
):
    """Create (or update) the confidential OpenID client of one Mailcow server.

    Returns (SsoClient, created). DOT keeps a hash of the secret; the
    SsoClient keeps it encrypted, because Mailcow needs it whenever its
    identity provider is written again.
    """
    Application = get_application_model()
    url = _clean_webmail_url(webmail_url)
    sso = (
        SsoClient.objects.select_for_update()
        .select_related("application")
        .filter(mail_server=mail_server)
        .first()
    )
    created = sso is None
    secret = secrets.token_urlsafe(48) if created or rotate_secret else sso.client_secret
    if created:
        application = Application(
            name=f"Webmail on {mail_server.name}",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            skip_authorization=True,  # the person chose the mailbox in the portal already
            algorithm=Application.RS256_ALGORITHM,
            hash_client_secret=True,
        )
        sso = SsoClient(mail_server=mail_server)
    else:
        application = sso.application
    application.redirect_uris = url
    application.post_logout_redirect_uris = url
    if created or rotate_secret:
        application.client_secret = secret
    application.save()
    sso.application, sso.webmail_url, sso.client_secret = application, url, secret
    sso.save()
    audit_record(
        actor=actor,
        action="webmail.client_register" if created else "webmail.client_update",
        obj=mail_server,
        data={
            "webmail_url": url,
            "client_id": application.client_id,
            "secret_rotated": created or rotate_secret,
        },
    )
    return sso, created


def identity_provider_attr(sso: SsoClient, *, site_url: str, extra_urls=()) -> dict:
    """Mailcow's generic-oidc provider settings pointing at Mailherd (reference mailcow-sso.md §5)."""
    base = site_url.rstrip("/")
    return {
        "authsource": "generic-oidc",
        "authorize_url": f"{base}/o/authorize/",
        "token_url": f"{base}/o/token/",
        "userinfo_url": f"{base}/o/userinfo/",
        "client_id": sso.application.client_id,
        "client_secret": sso.client_secret,
        "redirect_url": sso.webmail_url,
        "redirect_url_extra": [_clean_webmail_url(u) for u in extra_urls],
        "client_scopes": SCOPES,
        "login_provisioning": 0,
        "ignore_ssl_error": 0,
        "mappers": [SENTINEL_MAPPER + secrets.token_hex(8)],
        "templates": ["Default"],
    }


@transaction.atomic
def grants_revoke(*, actor: Actor, mailbox=None, user=None, reason: str = "") -> int:
    """End webmail sessions of a mailbox (and/or a person): their tokens stop refreshing."""
    qs = MailboxGrant.objects.filter(revoked_at__isnull=True)
    if mailbox is not None:
        qs = qs.filter(mailbox=mailbox)
    if user is not None:
        qs = qs.filter(user=user)
    return qs.update(revoked_at=timezone.now())
