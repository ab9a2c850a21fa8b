"""Writes for webmail sign-in: the OpenID client of each Mailcow server, mailbox grants."""

import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import get_application_model

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import MailherdError, ValidationFailed
from mailherd.webmail.models import MailboxGrant, OrganizationWebmail, SsoClient

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


class SsoSetupFailed(MailherdError):
    code = "webmail_sso_setup_failed"
    http_status = 502


@dataclass
class SsoSetupReport:
    sso: SsoClient
    created: bool
    attr: dict
    written: bool = False
    tested: bool = False
    lines: list[str] = field(default_factory=list)


def webmail_sso_setup(
    *,
    actor: Actor,
    mail_server,
    webmail_url: str,
    extra_urls=(),
    site_url: str | None = None,
    rotate_secret=False,
) -> SsoSetupReport:
    """Register the server's OpenID client and write Mailcow's identity provider through its API.

    Steps (each reported): the confidential client (secret encrypted here,
    hashed in DOT), `edit/identity-provider` with Mailherd's three URLs and a
    sentinel mapper, then `edit/identity-provider-test` (Mailcow probes the
    token URL). Mailcow is called outside any transaction.
    """
    from mailherd.mailcow.client import MailcowError
    from mailherd.mailcow.services import client_for

    sso, created = sso_client_register(
        actor=actor, mail_server=mail_server, webmail_url=webmail_url, rotate_secret=rotate_secret
    )
    base = (site_url or settings.SITE_URL).rstrip("/")
    attr = identity_provider_attr(sso, site_url=base, extra_urls=extra_urls)
    report = SsoSetupReport(sso=sso, created=created, attr=attr)
    report.lines.append(
        f"{'registered' if created else 'kept'} OpenID client {sso.application.client_id} for {mail_server.name}"
        f" (redirect URL {sso.webmail_url}{', new secret' if created or rotate_secret else ''})"
    )
    now = timezone.now()
    with client_for(mail_server) as client:
        try:
            client.set_identity_provider(attr)
        except MailcowError as exc:
            SsoClient.objects.filter(pk=sso.pk).update(
                last_error=f"edit/identity-provider: {exc}"[:2000]
            )
            raise SsoSetupFailed(f"Mailcow refused the identity provider: {exc}")
        report.written = True
        report.lines.append(
            f"wrote Mailcow's identity provider: generic-oidc, {attr['authorize_url']}, {attr['token_url']},"
            f" {attr['userinfo_url']}, scopes {attr['client_scopes']!r}, login_provisioning 0, ignore_ssl_error 0"
        )
        try:
            client.test_identity_provider(attr)
            report.tested = True
            report.lines.append(f"identity-provider-test: Mailcow reached {attr['token_url']}")
        except MailcowError as exc:
            report.lines.append(
                f"identity-provider-test FAILED: Mailcow could not reach {attr['token_url']} ({exc})"
            )
    SsoClient.objects.filter(pk=sso.pk).update(
        configured_at=now,
        last_test_at=now,
        last_test_ok=report.tested,
        last_error=""
        if report.tested
        else f"identity-provider-test failed for {attr['token_url']}",
    )
    sso.refresh_from_db()
    audit_record(
        actor=actor,
        action="webmail.sso_setup",
        obj=mail_server,
        data={
            "client_id": sso.application.client_id,
            "webmail_url": sso.webmail_url,
            "tested": report.tested,
        },
    )
    return report


@transaction.atomic
def organization_sign_in_set(
    *, actor: Actor, organization, mode: str, require_two_factor: bool | None = None
) -> tuple[OrganizationWebmail, list[tuple[str, str]]]:
    """Set the organization's mail sign-in: `password` or `sso` (and whether webmail needs 2FA).

    Switching moves every mailbox through the outbox (sso: a random password
    first, then authsource generic-oidc). Back to `password`, each mailbox
    gets a new password, returned once as (address, password) pairs.
    """
    from mailherd.hosting.models import Mailbox
    from mailherd.hosting.services.limits import writable_organization_lock
    from mailherd.hosting.services.mailboxes import mailbox_update

    if mode not in OrganizationWebmail.SignInMode.values:
        raise ValidationFailed('The sign-in mode is "password" or "sso".', field="mode")
    organization = writable_organization_lock(organization_id=organization.pk)
    settings_row, _ = OrganizationWebmail.objects.get_or_create(organization=organization)
    changed = settings_row.sign_in_mode != mode
    settings_row.sign_in_mode = mode
    if require_two_factor is not None:
        settings_row.require_two_factor = bool(require_two_factor)
    settings_row.save()
    passwords = []
    if changed:
        sso = mode == OrganizationWebmail.SignInMode.SSO
        for address in (
            Mailbox.objects.filter(organization=organization)
            .exclude(sso=sso)
            .values_list("address", flat=True)
        ):
            mailbox = mailbox_update(
                actor=actor, organization=organization, address=address, sso=sso
            )
            if getattr(mailbox, "generated_password", None):
                passwords.append((address, mailbox.generated_password))
    audit_record(
        actor=actor,
        action="webmail.sign_in_mode",
        organization=organization,
        obj=organization,
        data={"mode": mode, "require_two_factor": settings_row.require_two_factor},
    )
    return settings_row, passwords


def mailcow_admin_open(*, actor: Actor, organization) -> str:
    """A one-time link that opens Mailcow's own domain-admin pages for the organization's domains.

    For owners, where the plan has `mailcow_admin`. Mailherd keeps one Mailcow
    domain admin per organization (`add/domain-admin`, random password nobody
    knows) and asks for a token (`add/sso/domain-admin`, valid 30 s, single
    use) redeemed at `/domainadmin/mailbox?sso_token=…`. Called directly (not
    through the outbox): the token is needed now, and nothing is kept.
    """
    from mailherd.hosting.models import Domain
    from mailherd.hosting.services.limits import ensure_writable
    from mailherd.mailcow.client import MailcowError
    from mailherd.mailcow.services import client_for
    from mailherd.operator.selectors import feature_require

    feature_require("mailcow_admin", organization)
    ensure_writable(organization)
    domains = list(
        Domain.objects.filter(
            organization=organization, verified_at__isnull=False, mail_server__isnull=False
        )
        .select_related("mail_server")
        .order_by("name")
    )
    if not domains:
        raise ValidationFailed("No domain of this organization is on a mail server yet.")
    server = domains[0].mail_server
    names = sorted(d.name for d in domains if d.mail_server_id == server.pk)
    username = f"mh-{organization.pk}-{organization.slug}"[:60]
    try:
        with client_for(server) as client:
            existing = client.get_domain_admin(username)
            if existing is not None and sorted(existing.domains) != names:
                client.delete_domain_admin(username)
                existing = None
            if existing is None:
                client.add_domain_admin(
                    username, password=secrets.token_urlsafe(32) + "aA1!", domains=names
                )
            token = client.issue_domain_admin_sso_token(username)
    except MailcowError as exc:
        raise SsoSetupFailed(f"The mail server did not open its admin pages: {exc}")
    audit_record(
        actor=actor,
        action="mailcow_admin.open",
        organization=organization,
        obj=organization,
        data={"domains": names},
    )
    return f"{server.api_url.rstrip('/')}/domainadmin/mailbox?sso_token={token.token}"
