"""Smarthosts (relays): the operator's definitions, a server's default, and keeping Mailcow in step.

Writes here are the operator's (CLI, back office). Which relay a domain's
mail leaves through is `effective_relay(domain)`: the domain's own choice (a
plan feature, `hosting.services.relays`) or its server's default. Mailcow
learns a relay lazily: the outbox's domain handler calls
`relay_ensure_on_server` before it points the domain at the relayhost id.
"""

import re

from django.db import transaction
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import Conflict, ValidationFailed
from mailherd.mailcow.models import MailServer, Relay, RelayOnServer

_HOST = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"
)
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_SELECTOR = re.compile(r"^[A-Za-z0-9._-]{1,63}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


def _host(value: str, field: str, *, required: bool = True) -> str:
    value = (value or "").strip().lower().rstrip(".")
    if not value and not required:
        return ""
    if not _HOST.match(value):
        raise ValidationFailed(f"{value or 'An empty name'} is not a host name.", field=field)
    return value


def _clean(fields: dict) -> dict:
    """Validate a relay's fields; return them normalised."""
    out = dict(fields)
    if "name" in out:
        out["name"] = (out["name"] or "").strip().lower()
        if not _SLUG.match(out["name"]):
            raise ValidationFailed(
                "The name may use lower-case letters, digits, - and _ (e.g. resend).", field="name"
            )
    if "host" in out:
        out["host"] = _host(out["host"], "host")
    if "port" in out:
        try:
            out["port"] = int(out["port"])
        except (TypeError, ValueError):
            raise ValidationFailed("The port must be a number.", field="port") from None
        if not 1 <= out["port"] <= 65535:
            raise ValidationFailed("The port must be between 1 and 65535.", field="port")
    for key in ("username", "password"):
        if key in out and ("\n" in (out[key] or "") or "\x00" in (out[key] or "")):
            raise ValidationFailed(f"The {key} cannot contain line breaks.", field=key)
    if "spf_include" in out:
        out["spf_include"] = _host(out["spf_include"], "spf_include", required=False)
    if "envelope_subdomain" in out:
        sub = (out["envelope_subdomain"] or "").strip().lower()
        if sub and not _LABEL.match(sub):
            raise ValidationFailed(
                "The envelope subdomain is one DNS label, e.g. send.", field="envelope_subdomain"
            )
        out["envelope_subdomain"] = sub
    if "envelope_mx" in out:
        out["envelope_mx"] = _host(out["envelope_mx"], "envelope_mx", required=False)
    if "dkim_selector" in out:
        out["dkim_selector"] = (out["dkim_selector"] or "").strip()
        if out["dkim_selector"] and not _SELECTOR.match(out["dkim_selector"]):
            raise ValidationFailed(
                "A DKIM selector uses letters, digits, . - _.", field="dkim_selector"
            )
    if "dkim_type" in out and out["dkim_type"] not in Relay.DkimType.values:
        raise ValidationFailed("The DKIM record type is TXT, CNAME or empty.", field="dkim_type")
    return out


def _check_dns_fields(relay: Relay) -> None:
    if relay.envelope_subdomain and not (relay.envelope_mx and relay.spf_include):
        raise ValidationFailed(
            "An envelope subdomain needs the provider's MX host and SPF include.",
            field="envelope_mx",
        )
    if bool(relay.dkim_type) != bool(relay.dkim_selector and relay.dkim_value):
        raise ValidationFailed(
            "The provider's DKIM record needs a type, a selector and a value (or none of them).",
            field="dkim_type",
        )


def relay_check(fields: dict, *, instance: Relay | None = None) -> dict:
    """Validate a relay's fields as add/update would (forms call it to show errors on fields)."""
    cleaned = _clean({k: v for k, v in fields.items() if not (k == "password" and not v)})
    if instance is None and Relay.objects.filter(name=cleaned.get("name", "")).exists():
        raise Conflict(f"A relay named {cleaned['name']} already exists.", field="name")
    probe = Relay(
        **{f.name: getattr(instance, f.name) for f in Relay._meta.concrete_fields}
        if instance
        else {}
    )
    for key, value in cleaned.items():
        setattr(probe, key, value)
    _check_dns_fields(probe)
    return cleaned


@transaction.atomic
def relay_add(
    *, actor: Actor, name: str, host: str, port=587, username: str = "", password: str = "", **dns
) -> Relay:
    """Define a smarthost. `dns`: spf_include, envelope_subdomain, envelope_mx, dkim_selector,
    dkim_type, dkim_value."""
    fields = _clean(
        {
            "name": name,
            "host": host,
            "port": port,
            "username": username,
            "password": password,
            **dns,
        }
    )
    if Relay.objects.filter(name=fields["name"]).exists():
        raise Conflict(f"A relay named {fields['name']} already exists.", field="name")
    relay = Relay(**fields)
    _check_dns_fields(relay)
    relay.save()
    audit_record(
        actor=actor,
        action="relay.add",
        obj=relay,
        data={k: v for k, v in fields.items() if k != "password"},
    )
    return relay


@transaction.atomic
def relay_update(*, actor: Actor, relay: Relay, **changes) -> Relay:
    """Change a relay (an empty or missing password keeps the current one); every domain
    using it is brought up to date on its server."""
    if not changes.get("password"):
        changes.pop("password", None)
    changes.pop("name", None)  # scripts refer to relays by name
    fields = _clean(changes)
    relay = Relay.objects.select_for_update().get(pk=relay.pk)
    for key, value in fields.items():
        setattr(relay, key, value)
    _check_dns_fields(relay)
    relay.save()
    audit_record(
        actor=actor,
        action="relay.update",
        obj=relay,
        data={k: ("(changed)" if k == "password" else v) for k, v in fields.items()},
    )
    _domains_follow(relay_domains(relay))
    return relay


@transaction.atomic
def relay_delete(*, actor: Actor, relay: Relay) -> None:
    """Remove a relay that no server and no domain uses (its relayhosts go with the next sync)."""
    from mailherd.hosting.models import Domain

    servers = list(MailServer.objects.filter(default_relay=relay).values_list("name", flat=True))
    domains = list(Domain.objects.filter(relay=relay).values_list("name", flat=True)[:5])
    if servers or domains:
        users = ", ".join([*(f"server {s}" for s in servers), *(f"domain {d}" for d in domains)])
        raise Conflict(f"The relay {relay.name} is still used by {users}.")
    audit_record(actor=actor, action="relay.delete", obj=relay)
    relay.delete()


class UnknownRelay(ValidationFailed):
    code = "unknown_relay"


def relay_get(name: str) -> Relay:
    relay = Relay.objects.filter(name=(name or "").strip().lower()).first()
    if relay is None:
        raise UnknownRelay(f"There is no smarthost named {name}.", field="relay")
    return relay


@transaction.atomic
def server_relay_set(*, actor: Actor, server: MailServer, relay: Relay | None) -> int:
    """Make `relay` the server's default smarthost (None: mail leaves directly).

    Every verified domain on the server without a relay of its own is queued
    to follow; returns how many.
    """
    from mailherd.hosting.models import Domain

    server = MailServer.objects.select_for_update().get(pk=server.pk)
    before = server.default_relay.name if server.default_relay else None
    server.default_relay = relay
    server.save(update_fields=["default_relay"])
    audit_record(
        actor=actor,
        action="mail_server.relay",
        obj=server,
        data={"before": before, "after": relay.name if relay else None},
    )
    domains = list(
        Domain.objects.filter(
            mail_server=server, relay__isnull=True, verified_at__isnull=False
        ).select_related("organization")
    )
    _domains_follow(domains)
    return len(domains)


def relay_domains(relay: Relay):
    """Verified domains whose mail leaves through `relay` (their own choice or their server's)."""
    from django.db.models import Q

    from mailherd.hosting.models import Domain

    return list(
        Domain.objects.filter(verified_at__isnull=False)
        .filter(Q(relay=relay) | Q(relay__isnull=True, mail_server__default_relay=relay))
        .select_related("organization")
    )


def _domains_follow(domains) -> None:
    from mailherd.hosting.models import ProvisioningOp
    from mailherd.hosting.services.outbox import domain_key, enqueue

    for domain in domains:
        enqueue(
            kind=ProvisioningOp.Kind.DOMAIN_UPDATE,
            object_key=domain_key(domain.name),
            organization=domain.organization,
            domain_name=domain.name,
        )


def effective_relay(domain) -> Relay | None:
    if domain.relay_id:
        return domain.relay
    server = domain.mail_server
    return server.default_relay if server is not None and server.default_relay_id else None


# -- the outbox's side (network calls; no transaction, no lock held) -----------------


def relay_ensure_on_server(client, server: MailServer, relay: Relay) -> int:
    """Make `relay` exist on `server` with its current settings; return Mailcow's relayhost id."""
    link = RelayOnServer.objects.filter(relay=relay, mail_server=server).first()
    now = timezone.now()
    if link is not None and client.get_relayhost(link.relayhost_id) is not None:
        if link.synced_at < relay.updated_at:
            client.edit_relayhost(
                link.relayhost_id,
                hostname=relay.hostname_port,
                username=relay.username,
                password=relay.password,
            )
            RelayOnServer.objects.filter(pk=link.pk).update(synced_at=now)
        return link.relayhost_id
    created = client.add_relayhost(
        relay.hostname_port, username=relay.username, password=relay.password
    )
    RelayOnServer.objects.update_or_create(
        relay=relay, mail_server=server, defaults={"relayhost_id": created.id, "synced_at": now}
    )
    return created.id


def relayhost_id_for(domain) -> int | None:
    """The relayhost id the domain should carry on its server, if already known (reconciler)."""
    relay = effective_relay(domain)
    if relay is None:
        return None
    link = RelayOnServer.objects.filter(relay=relay, mail_server_id=domain.mail_server_id).first()
    return link.relayhost_id if link else -1  # -1: not on the server yet
