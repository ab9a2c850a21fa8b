"""Per-domain allow and block lists: senders whose mail is always accepted or always refused.

Mailcow keeps them as rspamd settings (`add/domain-policy`, `delete/domain-policy`,
`get/policy_wl_domain` / `policy_bl_domain`; read from source, docs/mailcow.md). Each entry reaches
the server through the outbox (after its domain's own rows), and is audited.
"""

from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import Conflict, NotFound, ValidationFailed
from mailherd.hosting.models import Domain, DomainPolicy, ProvisioningOp, SyncStatus
from mailherd.hosting.services.limits import ensure_writable
from mailherd.hosting.services.outbox import enqueue
from mailherd.hosting.validation import clean_domain_name
from mailherd.tenancy.locks import organization_lock

MAX_ENTRIES = 200
LISTS = ("allow", "block")


def policy_key(entry_id: int) -> str:
    return f"domainpolicy:{entry_id}"


def clean_sender(value) -> str:
    """An address (`a@b.example`), a domain (`b.example`) or a pattern (`*@b.example`, `*.example`)."""
    text = str(value or "").strip().lower()
    bare = text
    for ch in "@_.-*":
        bare = bare.replace(ch, "")
    if not text or not bare.isascii() or not bare.isalnum() or len(text) > 255:
        raise ValidationFailed(
            "Give an address (name@example.com), a domain (example.com) or a pattern with *"
            " (*@example.com); letters, digits and . - _ @ * only.",
            field="sender",
        )
    if text.count("@") > 1:
        raise ValidationFailed("An address has one @.", field="sender")
    return text


def _domain_locked(organization, name: str) -> tuple[object, Domain]:
    organization = organization_lock(organization_id=organization.pk)
    ensure_writable(organization)
    try:
        ascii_name = clean_domain_name(name)
    except ValidationFailed:
        raise NotFound("No such domain.") from None
    domain = Domain.objects.filter(organization=organization, name=ascii_name).first()
    if domain is None:
        raise NotFound("No such domain.")
    if not domain.is_verified:
        raise ValidationFailed(
            f"Verify {domain.unicode_name} first; its lists apply once the mail server has it.",
            field="name",
        )
    return organization, domain


def policy_list(*, organization, name: str):
    return DomainPolicy.objects.filter(
        domain__organization=organization, domain__name=name
    ).order_by("list", "sender")


@transaction.atomic
def domain_policy_add(
    *, actor: Actor, organization, name: str, list_name: str, sender: str
) -> DomainPolicy:
    if list_name not in LISTS:
        raise ValidationFailed('The list is "allow" or "block".', field="list")
    sender = clean_sender(sender)
    organization, domain = _domain_locked(organization, name)
    if domain.alias_of_id:
        raise ValidationFailed(
            f"{domain.unicode_name} is an alias domain: set the lists on {domain.alias_of.unicode_name}.",
            field="name",
        )
    existing = DomainPolicy.objects.filter(domain=domain, sender=sender).first()
    if existing is not None:
        where = "allow" if existing.list == "allow" else "block"
        raise Conflict(f"{sender} is already on the {where} list of {domain.unicode_name}.", field="sender")
    if DomainPolicy.objects.filter(domain=domain).count() >= MAX_ENTRIES:
        raise ValidationFailed(
            f"A domain's lists hold at most {MAX_ENTRIES} entries together.", field="sender"
        )
    entry = DomainPolicy.objects.create(domain=domain, list=list_name, sender=sender)
    enqueue(
        kind=ProvisioningOp.Kind.DOMAIN_POLICY_ADD,
        object_key=policy_key(entry.pk),
        organization=organization,
        domain_name=domain.name,
    )
    audit_record(
        actor=actor,
        action="domain.policy_add",
        organization=organization,
        obj=domain,
        data={"list": list_name, "sender": sender},
    )
    return entry


@transaction.atomic
def domain_policy_delete(*, actor: Actor, organization, name: str, entry_id) -> None:
    organization, domain = _domain_locked(organization, name)
    try:
        entry = DomainPolicy.objects.get(domain=domain, pk=int(entry_id))
    except (DomainPolicy.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such entry.") from None
    enqueue(
        kind=ProvisioningOp.Kind.DOMAIN_POLICY_DELETE,
        object_key=policy_key(entry.pk),
        organization=organization,
        domain_name=domain.name,
        payload={"mailcow_id": entry.mailcow_id, "sender": entry.sender},
    )
    audit_record(
        actor=actor,
        action="domain.policy_delete",
        organization=organization,
        obj=domain,
        data={"list": entry.list, "sender": entry.sender},
    )
    entry.delete()


def policy_out(entry: DomainPolicy) -> dict:
    return {
        "id": entry.pk,
        "list": entry.list,
        "sender": entry.sender,
        "status": entry.sync_status,
    }


# -- the outbox side -------------------------------------------------------------------------


def _apply_add(op, client, server) -> None:
    entry = DomainPolicy.objects.select_related("domain").filter(
        pk=int(op.object_key.split(":", 1)[1])
    ).first()
    if entry is None or client is None:
        return  # removed since; its delete row follows
    from mailherd.mailcow.client import MailcowAlreadyExists

    def find():
        return next((e for e in client.list_domain_policy(entry.domain.name) if e.value == entry.sender), None)

    found = find()
    if found is not None and found.list != entry.list:
        client.delete_domain_policy(found.id)  # on the other list on the server: move it
        found = None
    if found is None:
        try:
            client.add_domain_policy(entry.domain.name, entry.list, entry.sender)
        except MailcowAlreadyExists:
            pass  # an earlier attempt got through
        found = find()
    DomainPolicy.objects.filter(pk=entry.pk).update(
        mailcow_id=found.id if found else None, sync_status=SyncStatus.ACTIVE
    )


def _apply_delete(op, client, server) -> None:
    if client is None:
        return
    entry_id = op.payload.get("mailcow_id")
    if entry_id is None:  # removed before the server reported its id: find it by its sender
        entry_id = next(
            (e.id for e in client.list_domain_policy(op.payload["domain"]) if e.value == op.payload.get("sender")),
            None,
        )
    if entry_id is not None:
        from mailherd.mailcow.client import MailcowNotFound

        try:
            client.delete_domain_policy(entry_id)
        except MailcowNotFound:
            pass


def register_outbox_handlers() -> None:
    from mailherd.hosting.provisioning import HANDLERS

    HANDLERS[ProvisioningOp.Kind.DOMAIN_POLICY_ADD] = _apply_add
    HANDLERS[ProvisioningOp.Kind.DOMAIN_POLICY_DELETE] = _apply_delete
