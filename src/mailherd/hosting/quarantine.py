"""The quarantine: messages rspamd held for an organization's addresses, read live from Mailcow.

Mailcow's API key sees every recipient's held mail, so every read here is
filtered strictly to the organization's own verified domains on each server.
An item's id is `<server id>-<Mailcow id>` (ids are per server). Release and
delete go through the outbox like every change to mail state.
"""

import email
import email.policy
import re
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils.html import strip_tags

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import MailherdError, NotFound
from mailherd.hosting.models import Domain, ProvisioningOp
from mailherd.hosting.services.limits import ensure_writable
from mailherd.hosting.services.outbox import enqueue
from mailherd.mailcow.client import MailcowError
from mailherd.mailcow.services import client_for

PREVIEW_CHARS = 20_000
_ID = re.compile(r"^(\d{1,10})-(\d{1,12})$")


class QuarantineUnavailable(MailherdError):
    code = "quarantine_unavailable"
    http_status = 503


@dataclass(frozen=True)
class HeldMessage:
    id: str
    subject: str
    sender: str
    recipient: str
    score: float | None
    virus: bool
    action: str
    received_at: datetime | None
    status: str  # held, releasing, deleting

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "subject": self.subject,
            "sender": self.sender,
            "recipient": self.recipient,
            "score": self.score,
            "virus": self.virus,
            "action": self.action,
            "received_at": self.received_at.isoformat() if self.received_at else None,
            "status": self.status,
        }


def _domains_by_server(organization) -> dict:
    """{server: {domain names}} for the organization's verified domains."""
    servers: dict = {}
    for domain in Domain.objects.filter(
        organization=organization, verified_at__isnull=False, mail_server__isnull=False
    ).select_related("mail_server"):
        servers.setdefault(domain.mail_server, set()).add(domain.name)
    return servers


def _recipient_domain(address: str) -> str:
    return (address or "").strip().lower().rsplit("@", 1)[-1]


def _pending(organization) -> dict[str, str]:
    ops = ProvisioningOp.objects.filter(
        organization=organization,
        kind__in=(ProvisioningOp.Kind.QUARANTINE_RELEASE, ProvisioningOp.Kind.QUARANTINE_DELETE),
        status__in=(ProvisioningOp.Status.PENDING, ProvisioningOp.Status.IN_PROGRESS),
    ).values_list("object_key", "kind")
    word = {
        ProvisioningOp.Kind.QUARANTINE_RELEASE: "releasing",
        ProvisioningOp.Kind.QUARANTINE_DELETE: "deleting",
    }
    return {key.split(":", 1)[1]: word[kind] for key, kind in ops}


def _held(server, item, pending) -> HeldMessage:
    ident = f"{server.pk}-{item.id}"
    return HeldMessage(
        id=ident,
        subject=item.subject,
        sender=item.sender,
        recipient=item.recipient.lower(),
        score=item.score,
        virus=item.virus,
        action=item.action,
        received_at=item.created,
        status=pending.get(ident, "held"),
    )


def quarantine_list(*, organization, mailbox: str | None = None) -> list[HeldMessage]:
    """The organization's held messages, newest first (one list call per server it uses)."""
    pending = _pending(organization)
    found = []
    for server, names in _domains_by_server(organization).items():
        try:
            items = client_for(server).list_quarantine()
        except MailcowError as exc:
            raise QuarantineUnavailable(
                "The quarantine cannot be read right now; try again in a few minutes."
            ) from exc
        for item in items:
            if _recipient_domain(item.recipient) not in names:
                continue  # another organization's mail: never shown
            if mailbox and item.recipient.lower() != mailbox.strip().lower():
                continue
            found.append(_held(server, item, pending))
    found.sort(key=lambda m: (m.received_at or datetime.min, m.id), reverse=True)
    return found


def _locate(organization, item_id: str):
    """(server, Mailcow message, domain) of one of the organization's held messages; NotFound otherwise."""
    match = _ID.match(str(item_id or ""))
    if not match:
        raise NotFound("No such message in your quarantine.")
    server_id, mailcow_id = int(match[1]), int(match[2])
    servers = {s.pk: (s, names) for s, names in _domains_by_server(organization).items()}
    if server_id not in servers:
        raise NotFound("No such message in your quarantine.")
    server, names = servers[server_id]
    try:
        message = client_for(server).get_quarantine_item(mailcow_id)
    except MailcowError as exc:
        raise QuarantineUnavailable("The quarantine cannot be read right now.") from exc
    if message is None or _recipient_domain(message.item.recipient) not in names:
        raise NotFound("No such message in your quarantine.")
    return server, message, _recipient_domain(message.item.recipient)


def quarantine_preview(*, organization, item_id: str) -> dict:
    """A held message's headers and text, for reading before deciding (never rendered as HTML)."""
    server, message, _ = _locate(organization, item_id)
    parsed = email.message_from_string(message.raw, policy=email.policy.default)
    body, attachments = "", []
    for part in parsed.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename:
            attachments.append(filename)
            continue
        if part.get_content_type() == "text/plain" and not body:
            body = part.get_content()
        elif part.get_content_type() == "text/html" and not body:
            body = strip_tags(part.get_content())
    held = _held(server, message.item, _pending(organization))
    return {
        **held.as_dict(),
        "headers": {
            name: str(parsed.get(name, ""))
            for name in ("From", "To", "Subject", "Date", "Reply-To")
        },
        "text": body[:PREVIEW_CHARS],
        "attachments": attachments,
        "size": len(message.raw.encode()),
    }


def _enqueue(*, actor, organization, item_id, kind, action, learn_ham=False) -> HeldMessage:
    server, message, domain_name = _locate(organization, item_id)  # network: before the transaction
    held = _held(server, message.item, {})
    with transaction.atomic():
        from mailherd.tenancy.locks import organization_lock

        ensure_writable(organization_lock(organization_id=organization.pk))
        key = f"quarantine:{held.id}"
        if ProvisioningOp.objects.filter(
            object_key=key,
            status__in=(ProvisioningOp.Status.PENDING, ProvisioningOp.Status.IN_PROGRESS),
        ).exists():
            raise NotFound("This message is already being released or deleted.")
        enqueue(
            kind=kind,
            object_key=key,
            organization=organization,
            domain_name=domain_name,
            payload={"item_id": message.item.id, "learn_ham": learn_ham},
        )
        audit_record(
            actor=actor,
            action=action,
            organization=organization,
            data={
                "id": held.id,
                "recipient": held.recipient,
                "sender": held.sender,
                "subject": held.subject[:200],
                "learn_ham": learn_ham,
            },
        )
    status = "releasing" if kind == ProvisioningOp.Kind.QUARANTINE_RELEASE else "deleting"
    return HeldMessage(**{**held.__dict__, "status": status})


def quarantine_release(
    *, actor: Actor, organization, item_id: str, learn_ham: bool = False
) -> HeldMessage:
    """Deliver a held message to its recipient (and, with `learn_ham`, teach the filter it was good)."""
    return _enqueue(
        actor=actor,
        organization=organization,
        item_id=item_id,
        learn_ham=learn_ham,
        kind=ProvisioningOp.Kind.QUARANTINE_RELEASE,
        action="quarantine.release",
    )


def quarantine_delete(*, actor: Actor, organization, item_id: str) -> HeldMessage:
    """Drop a held message for good."""
    return _enqueue(
        actor=actor,
        organization=organization,
        item_id=item_id,
        kind=ProvisioningOp.Kind.QUARANTINE_DELETE,
        action="quarantine.delete",
    )
