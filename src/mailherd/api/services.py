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
from mailherd.core.errors import NotFound, ValidationFailed

TOKEN_PREFIX = "mh"
# Writing last_used_at on every request would turn reads into writes; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, actor: Actor, organization, name: str) -> tuple[ApiToken, str]:
    """Create a token and return it with its plaintext, which is never retrievable again."""
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
    )
    audit_record(actor=actor, action="api_token.create", organization=organization, obj=token)
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


def api_token_authenticate(raw: str) -> ApiToken | None:
    """Return the active token for a presented bearer string, or None."""
    parts = (raw or "").split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    token = ApiToken.objects.select_related("organization__plan").filter(prefix=parts[1]).first()
    if token is None or token.revoked_at is not None:
        return None
    if not hmac.compare_digest(token.token_hash, _hash(parts[2])):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
