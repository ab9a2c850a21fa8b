"""The reconciler: compare each server with Mailherd, repair what Mailherd owns, report the rest.

Per server it makes three list calls (domains, mailboxes, aliases) and one
DKIM read per domain (Mailcow cannot list keys), never one call per mailbox or alias. Repairs go through the outbox like any other change, so
they are ordered, retried and idempotent. See docs/outbox.md.
"""

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from mailherd.hosting.models import Alias, Domain, DriftReport, Mailbox, ProvisioningOp, SyncStatus
from mailherd.hosting.provisioning import (
    _client,
    _desired_active,
    _desired_domain_active,
    desired_rate_limit,
    domain_limits_for,
    mailcow_display_name,
)
from mailherd.hosting.services.aliases import alias_key
from mailherd.hosting.services.mailboxes import mailbox_key
from mailherd.hosting.services.outbox import domain_key, enqueue
from mailherd.mailcow.models import MailServer, RelayOnServer
from mailherd.mailcow.relays import effective_relay

logger = logging.getLogger(__name__)
MIB = 1024 * 1024


@dataclass
class ReconcileResult:
    repaired: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    # Drift on objects whose last change is parked: left to the operator, not queued again.
    parked: list[str] = field(default_factory=list)
    op_ids: list[int] = field(default_factory=list)  # the repair rows queued


def _busy_keys() -> set[str]:
    """Objects with changes still on their way: not drift, just not applied yet."""
    return set(
        ProvisioningOp.objects.filter(
            status__in=(ProvisioningOp.Status.PENDING, ProvisioningOp.Status.IN_PROGRESS)
        ).values_list("object_key", flat=True)
    )


def _parked_keys() -> dict[str, str]:
    """Objects whose latest change is parked (failed): {object_key: its error}.

    Queueing another repair for them would only park another row every cycle;
    the operator retries or discards the parked row (a discarded row is done,
    so the next cycle repairs the object again).
    """
    later = ProvisioningOp.objects.filter(object_key=OuterRef("object_key"), id__gt=OuterRef("id"))
    return dict(
        ProvisioningOp.objects.filter(status=ProvisioningOp.Status.FAILED)
        .filter(~Exists(later))
        .values_list("object_key", "last_error")
    )


def reconcile_server(*, server: MailServer) -> ReconcileResult:
    client = _client(server)
    remote_domains = {d.name: d for d in client.list_domains()}
    remote_mailboxes = {m.address: m for m in client.list_mailboxes()}
    remote_aliases = {a.address: a for a in client.list_aliases()}
    busy = _busy_keys()
    parked = _parked_keys()
    result = ReconcileResult()

    def _repair(kind, key, organization, domain_name, line, payload=None) -> bool:
        """Queue a repair, or note the drift when a parked row waits for the operator."""
        if key in parked:
            result.parked.append(f"{line} (a parked change waits for the operator: {parked[key][:200]})")
            return False
        result.repaired.append(line)
        op = enqueue(kind=kind, object_key=key, organization=organization, domain_name=domain_name,
                     payload=payload)
        result.op_ids.append(op.pk)
        return True
    now = timezone.now()

    domains = {
        d.name: d
        for d in Domain.objects.filter(
            mail_server=server, verified_at__isnull=False
        ).select_related("organization__plan", "relay", "mail_server__default_relay", "alias_of")
    }
    mailboxes = Mailbox.objects.filter(domain__mail_server=server).select_related(
        "organization", "domain"
    )
    aliases = Alias.objects.filter(domain__mail_server=server).select_related("domain")

    relay_links = dict(
        RelayOnServer.objects.filter(mail_server=server).values_list("relay_id", "relayhost_id")
    )
    # One DKIM read per domain (Mailcow has no list of keys), before the transaction opens.
    dkim_drift = {
        name: _dkim_drift(client, domain)
        for name, domain in domains.items()
        if name in remote_domains and domain_key(name) not in busy
    }
    # Alias domains are not in get/domain/all: one more list call, only where there are some.
    remote_alias_domains = (
        {a.name: a for a in client.list_alias_domains()}
        if any(d.alias_of_id for d in domains.values())
        else {}
    )
    with transaction.atomic():
        for name, domain in domains.items():
            if domain_key(name) in busy:
                continue
            if domain.alias_of_id:
                problem = _alias_domain_problem(domain, remote_alias_domains.get(name))
                if problem:
                    _repair(
                        ProvisioningOp.Kind.DOMAIN_UPDATE,
                        domain_key(name),
                        domain.organization,
                        name,
                        f"alias domain {name}: {problem}",
                    )
                continue
            remote = remote_domains.get(name)
            wanted_active = _desired_domain_active(domain.organization)
            problem = None
            if remote is None:
                problem = "missing"
            elif remote.active != wanted_active or not domain.dkim_txt:
                problem = "active flag or DKIM differs"
            elif remote.relayhost_id != _wanted_relayhost(domain, relay_links):
                wanted = _wanted_relayhost(domain, relay_links)
                problem = f"relayhost {remote.relayhost_id or 'none'} instead of {wanted or 'none'}"
            elif remote.rate_limit != desired_rate_limit(domain, domain.organization.plan, "domain"):
                wanted = desired_rate_limit(domain, domain.organization.plan, "domain")
                problem = f"rate limit {_rate(remote.rate_limit)} instead of {_rate(wanted)}"
            elif _remote_limits(remote) != domain_limits_for(domain):
                problem = "limits " + _limits_drift(_remote_limits(remote), domain_limits_for(domain))
            if dkim_drift.get(name) and problem != dkim_drift[name]:
                # The repair puts the key back too; say so beside the first difference.
                problem = f"{problem}; {dkim_drift[name]}" if problem else dkim_drift[name]
            if problem:
                _repair(
                    ProvisioningOp.Kind.DOMAIN_UPDATE,
                    domain_key(name),
                    domain.organization,
                    name,
                    f"domain {name}: {problem}",
                )
        for mailbox in mailboxes:
            if mailbox_key(mailbox.address) in busy or domain_key(mailbox.domain.name) in busy:
                continue
            remote = remote_mailboxes.get(mailbox.address)
            problem, spam_settings, access = None, False, False
            if remote is None:
                problem = "missing"
            elif remote.quota_bytes != mailbox.quota_mb * MIB:
                problem = f"quota {remote.quota_bytes} bytes instead of {mailbox.quota_mb} MiB"
            elif remote.active != _desired_active(mailbox):
                problem = f"active={int(remote.active)} instead of {int(_desired_active(mailbox))}"
            elif remote.name != mailcow_display_name(mailbox):
                problem = "display name changed"
            elif _own_rate_limit(remote) != desired_rate_limit(
                mailbox, mailbox.organization.plan, "mailbox"
            ):
                wanted = desired_rate_limit(mailbox, mailbox.organization.plan, "mailbox")
                problem = f"rate limit {_rate(_own_rate_limit(remote))} instead of {_rate(wanted)}"
            elif (remote.quarantine_notification, remote.quarantine_category) != (
                mailbox.quarantine_notification,
                mailbox.quarantine_category,
            ):
                problem = "quarantine notice settings differ"
                spam_settings = True
            elif _access_differs(remote, mailbox):
                problem = "protocol access differs"
                access = True
            if problem:
                if _repair(
                    ProvisioningOp.Kind.MAILBOX_UPDATE,
                    mailbox_key(mailbox.address),
                    mailbox.organization,
                    mailbox.domain.name,
                    f"mailbox {mailbox.address}: {problem}",
                    payload={"spam_settings": True} if spam_settings else ({"access": True} if access else None),
                ):
                    Mailbox.objects.filter(pk=mailbox.pk).update(sync_status=SyncStatus.PENDING)
            else:
                Mailbox.objects.filter(pk=mailbox.pk).update(
                    quota_used_bytes=remote.quota_used_bytes,
                    messages=remote.messages,
                    usage_refreshed_at=now,
                )
        for alias in aliases:
            if alias_key(alias.address) in busy or domain_key(alias.domain.name) in busy:
                continue
            remote = remote_aliases.get(alias.address)
            if (
                remote is None
                or sorted(remote.goto) != sorted(alias.goto)
                or remote.active != alias.enabled
            ) and _repair(
                ProvisioningOp.Kind.ALIAS_UPDATE,
                alias_key(alias.address),
                alias.organization,
                alias.domain.name,
                f"alias {alias.address}: {'missing' if remote is None else 'changed'}",
            ):
                Alias.objects.filter(pk=alias.pk).update(sync_status=SyncStatus.PENDING)

        known_mailboxes = set(
            Mailbox.objects.filter(address__in=list(remote_mailboxes)).values_list(
                "address", flat=True
            )
        )
        known_aliases = set(
            Alias.objects.filter(address__in=list(remote_aliases)).values_list("address", flat=True)
        )
        known_domains = set(
            Domain.objects.filter(
                name__in=list(remote_domains), verified_at__isnull=False
            ).values_list("name", flat=True)
        )
        for kind, remote, known, prefix in (
            (DriftReport.Kind.UNKNOWN_DOMAIN, remote_domains, known_domains, "domain"),
            (DriftReport.Kind.UNKNOWN_MAILBOX, remote_mailboxes, known_mailboxes, "mailbox"),
            (DriftReport.Kind.UNKNOWN_ALIAS, remote_aliases, known_aliases, "alias"),
        ):
            for identifier in remote:
                if identifier in known or f"{prefix}:{identifier}" in busy:
                    continue
                if prefix != "domain" and domain_key(identifier.rsplit("@", 1)[-1]) in busy:
                    continue
                result.unknown.append(f"{prefix} {identifier}")
                _report(server, kind, identifier, now)
        for line in result.repaired:
            DriftReport.objects.update_or_create(
                mail_server=server,
                kind=DriftReport.Kind.REPAIRED,
                identifier=line[:400],
                defaults={"detail": "queued for repair", "resolved_at": now},
            )
        # Unknown objects that have since disappeared (or been adopted) are resolved.
        DriftReport.objects.filter(mail_server=server, resolved_at__isnull=True).exclude(
            identifier__in=[line.split(" ", 1)[1] for line in result.unknown]
        ).exclude(kind=DriftReport.Kind.REPAIRED).update(resolved_at=now)
    logger.info(
        "reconciled %s: %d repaired, %d unknown",
        server.name,
        len(result.repaired),
        len(result.unknown),
    )
    if result.parked:
        logger.warning("reconciled %s: %d drifted objects wait on parked rows", server.name, len(result.parked))
    return result


def _alias_domain_problem(domain, remote) -> str | None:
    if remote is None:
        return "missing"
    if remote.target != domain.alias_of.name:
        return f"points to {remote.target} instead of {domain.alias_of.name}"
    if remote.active != _desired_domain_active(domain.organization) or not domain.dkim_txt:
        return "active flag or DKIM differs"
    return None


def _wanted_relayhost(domain, relay_links) -> int | None:
    """The relayhost id the domain should carry (-1: its relay is not on the server yet)."""
    relay = effective_relay(domain)
    return relay_links.get(relay.pk, -1) if relay else None


def _access_differs(remote, mailbox) -> bool:
    """The protocol switches of the mailbox's own page (webmail.selfservice.PROTOCOLS)."""
    from mailherd.webmail.selfservice import desired_access

    return any(
        remote.access.get(name, True) != allowed for name, allowed in desired_access(mailbox).items()
    )


def _remote_limits(remote) -> dict:
    return {
        "quota_mib": remote.quota_mib or 0,  # None: unlimited on the server
        "max_mailbox_quota_mib": remote.max_mailbox_quota_mib or 0,
        "max_mailboxes": remote.max_mailboxes,
        "max_aliases": remote.max_aliases,
    }


def _limits_drift(remote: dict, wanted: dict) -> str:
    return ", ".join(f"{k} {remote[k]} instead of {wanted[k]}" for k in wanted if remote[k] != wanted[k])


def _dkim_drift(client, domain) -> str | None:
    """Is the server's DKIM key the one Mailherd keeps (or, for an older domain, the one it shows)?"""
    from mailherd.hosting.dkim import dkim_public_b64, dkim_txt_public_b64

    key = client.get_dkim(domain.name)
    if key is None:
        return "DKIM key missing"
    if domain.dkim_private_key:
        if key.public_key != dkim_public_b64(domain.dkim_private_key):
            return "DKIM key differs from the one kept"
    elif key.public_key != dkim_txt_public_b64(domain.dkim_txt):
        return "DKIM key differs from the record shown"
    return None


def _own_rate_limit(remote):
    """A mailbox's own limit; Mailcow also shows the domain's, marked with scope "domain"."""
    return remote.rate_limit if remote.rate_limit_scope == "mailbox" else None


def _rate(limit) -> str:
    return f"{limit.value}/{limit.frame}" if limit else "none"


def _report(server, kind, identifier, now) -> None:
    DriftReport.objects.update_or_create(
        mail_server=server,
        kind=kind,
        identifier=identifier[:400],
        defaults={"resolved_at": None, "detail": "on the server, not in Mailherd"},
    )
