"""API tokens: `mh_<prefix>_<secret>`, shown once, stored as a SHA-256 hash."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from mailherd.api.models import ApiToken
from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import MailherdError, NotFound, ValidationFailed

TOKEN_PREFIX = "mh"
# Writing last_used_at on every request would turn reads into writes; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenExpired(MailherdError):
    code = "token_expired"
    http_status = 401
    default_message = "This API token has expired; create a new one in the portal."


@transaction.atomic
def api_token_create(
    *,
    actor: Actor,
    organization,
    name: str,
    scopes: list[str] | None = None,
    expires_at=None,
) -> tuple[ApiToken, str]:
    """Create a token and return it with its plaintext, which is never retrievable again.

    `scopes` default to full access (mailherd.api.scopes); `expires_at` None means never.
    """
    from mailherd.api.scopes import clean_scopes

    scopes = clean_scopes(scopes)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed("The expiry date must be in the future.", field="expires_at")
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed(
            "Give the token a name, e.g. the script that will use it.", field="name"
        )
    if len(name) > 100:
        raise ValidationFailed("A token name can have at most 100 characters.", field="name")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        organization=organization,
        name=name,
        prefix=prefix,
        token_hash=_hash(secret),
        created_by=actor.user,
        scopes=scopes,
        expires_at=expires_at,
    )
    audit_record(
        actor=actor,
        action="api_token.create",
        organization=organization,
        obj=token,
        data={"scopes": scopes, "expires_at": expires_at.isoformat() if expires_at else None},
    )
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


@transaction.atomic
def api_token_revoke(*, actor: Actor, organization, token_id: int) -> ApiToken:
    token = ApiToken.objects.filter(organization=organization, pk=token_id).first()
    if token is None:
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="api_token.revoke", organization=organization, obj=token)
    return token


def api_token_authenticate(raw: str, *, ip: str | None = None) -> ApiToken | None:
    """Return the active token for a presented bearer string, or None.

    An expired token raises TokenExpired, so the caller can say so instead of "invalid".
    """
    parts = (raw or "").split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    token = ApiToken.objects.select_related("organization__plan").filter(prefix=parts[1]).first()
    if token is None or token.revoked_at is not None:
        return None
    if not hmac.compare_digest(token.token_hash, _hash(parts[2])):
        return None
    if token.is_expired:
        raise TokenExpired()
    now = timezone.now()
    stale = token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION
    if stale or (ip and token.last_used_ip != ip):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip)
    return token
