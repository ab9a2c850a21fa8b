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


class ApiKeyReadOnly(ValidationFailed):
    code = "api_key_read_only"


def _probe(url: str, api_key: str, *, write: bool = False) -> str:
    """Return the server's version, or raise MailServerUnreachable saying why.

    With `write`, also check that the key may write (without changing anything): a read-only
    key would leave every change retrying for ever against 403.
    """
    from mailherd.mailcow.client import MailcowClient, MailcowError

    try:
        with MailcowClient(base_url=url, api_key=api_key) as client:
            version = client.get_version().version or "unknown"
            if write and not client.has_write_access():
                raise ApiKeyReadOnly(
                    "This API key is read-only: Mailcow refuses every change made with it."
                    " Create a read-write key in Mailcow (System > Configuration > Access >"
                    " Edit > API) and use that one.",
                    field="api_key",
                )
            return version
    except MailcowError as exc:
        raise MailServerUnreachable(f"The Mailcow server at {url} did not accept the key: {exc}")


def _is_address(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return False
    return True


def _check_public_names(url: str, public: dict) -> None:
    """MX, CNAME and SRV records name hosts, never addresses: refuse an address as a host name."""
    from urllib.parse import urlparse

    for field in ("hostname", "imap_host", "pop3_host", "smtp_host"):
        value = (public.get(field) or "").strip()
        if value and _is_address(value):
            raise ValidationFailed(
                f"{value} is an address; give a host name (e.g. mail.example.net): MX, CNAME and"
                " SRV records must name a host, never an address.",
                field=field,
            )
    url_host = urlparse(url).hostname or ""
    if not (public.get("hostname") or "").strip() and _is_address(url_host):
        raise ValidationFailed(
            f"The URL's host {url_host} is an address, not a name: give the mail server's public"
            " host name (e.g. mail.example.net), which the MX and CNAME records will point at.",
            field="hostname",
        )


def mail_server_check(*, name: str, url: str, api_key: str, instance=None, **public) -> str:
    """Everything a server must pass before it is saved; returns its Mailcow version.

    The name is free, the URL is http(s), host names are names, the key is accepted and may
    write. The back office's form and `mailherd add_server` both run it (through register).
    """
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Give the server a name.", field="name")
    if not url.startswith(("http://", "https://")):
        raise ValidationFailed("The URL must start with http:// or https://.", field="api_url")
    taken = MailServer.objects.filter(name=name)
    if instance is not None:
        taken = taken.exclude(pk=instance.pk)
    if taken.exists():
        raise ValidationFailed(f"A server named {name!r} already exists.", field="name")
    _check_public_names(url, public)
    return _probe(url.rstrip("/"), api_key, write=True)  # a network call: outside transactions


def mail_server_register(
    *, actor: Actor, name: str, url: str, api_key: str, **public
) -> MailServer:
    """Check the server (`mail_server_check`), then save it (key encrypted) and apply waiting
    changes."""
    name = (name or "").strip()
    public = {k: (v.strip() if isinstance(v, str) else v) for k, v in public.items()}
    version = mail_server_check(name=name, url=url, api_key=api_key, **public)
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


def mail_server_update(*, actor: Actor, server: MailServer, **fields) -> MailServer:
    """Change a registered server; a new URL or key is checked like a new server's."""
    fields = {k: (v.strip() if isinstance(v, str) else v) for k, v in fields.items()}
    url = fields.get("api_url", server.api_url)
    api_key = fields.get("api_key") or server.api_key
    public = {
        k: fields.get(k, getattr(server, k)) for k in ("hostname", "imap_host", "pop3_host", "smtp_host")
    }
    renamed = fields.get("name", server.name) != server.name
    if url != server.api_url or api_key != server.api_key or renamed:
        fields["version"] = mail_server_check(
            name=fields.get("name", server.name),
            url=url,
            api_key=api_key,
            instance=server,
            **public,
        )
    else:
        _check_public_names(url, public)
    with transaction.atomic():
        changed = []
        for key, value in fields.items():
            if getattr(server, key) != value:
                setattr(server, key, value)
                changed.append(key)
        server.save()
        audit_record(
            actor=actor,
            action="mail_server.update",
            obj=server,
            data={"fields": sorted(changed)},  # names only: never the key itself
        )
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
