"""Writes for the Mailcow server registry."""

import logging

from django.db import transaction
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import MailherdError, ValidationFailed
from mailherd.mailcow.models import MailServer

logger = logging.getLogger(__name__)


class MailServerUnreachable(MailherdError):
    code = "mail_server_unreachable"
    http_status = 502


def client_for(server: MailServer):
    """Return a Mailcow API client for `server` (the one place clients are built)."""
    from mailherd.mailcow.client import MailcowClient

    return MailcowClient(base_url=server.api_url, api_key=server.api_key)


def _probe(url: str, api_key: str) -> str:
    """Return the server's version, or raise MailServerUnreachable saying why."""
    from mailherd.mailcow.client import MailcowClient, MailcowError

    try:
        with MailcowClient(base_url=url, api_key=api_key) as client:
            return client.get_version().version or "unknown"
    except MailcowError as exc:
        raise MailServerUnreachable(f"The Mailcow server at {url} did not accept the key: {exc}")


def mail_server_register(
    *, actor: Actor, name: str, url: str, api_key: str, **public
) -> MailServer:
    """Check that `url` answers with `api_key`, then save the server (key encrypted)."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Give the server a name.", field="name")
    if not url.startswith(("http://", "https://")):
        raise ValidationFailed("The URL must start with http:// or https://.", field="url")
    if MailServer.objects.filter(name=name).exists():
        raise ValidationFailed(f"A server named {name!r} already exists.", field="name")
    version = _probe(url.rstrip("/"), api_key)  # outside any transaction: network call
    with transaction.atomic():
        server = MailServer.objects.create(
            name=name,
            api_url=url.rstrip("/"),
            api_key=api_key,
            version=version,
            last_health_at=timezone.now(),
            last_health_ok=True,
            **public,
        )
        audit_record(actor=actor, action="mail_server.register", obj=server)
        transaction.on_commit(_apply_waiting_changes)
    return server


def _apply_waiting_changes() -> None:
    """Changes made while no server was registered are applied now."""
    from mailherd.hosting.provisioning import outbox_retry_now
    from mailherd.hosting.services.outbox import kick_worker

    outbox_retry_now()
    kick_worker()


def mail_server_health_check(*, server: MailServer) -> bool:
    """Ask the server for its version; record the outcome. Return True if healthy."""
    try:
        version = _probe(server.api_url, server.api_key)
    except MailServerUnreachable as exc:
        MailServer.objects.filter(pk=server.pk).update(
            last_health_at=timezone.now(),
            last_health_ok=False,
            last_health_error=exc.message[:2000],
        )
        return False
    MailServer.objects.filter(pk=server.pk).update(
        last_health_at=timezone.now(), last_health_ok=True, last_health_error="", version=version
    )
    return True
