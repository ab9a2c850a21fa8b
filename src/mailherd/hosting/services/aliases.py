"""Aliases: one address (or a whole domain: catch-all) to one or more targets."""

from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import PermissionDenied, ValidationFailed
from mailherd.hosting.models import Alias, Domain, ProvisioningOp, SyncStatus
from mailherd.hosting.services.limits import (
    check_limit,
    ensure_writable,
    writable_organization_lock,
)
from mailherd.hosting.services.mailboxes import _usable_domain, ensure_address_free
from mailherd.hosting.services.outbox import enqueue
from mailherd.hosting.validation import clean_alias_targets, clean_domain_name, split_address
from mailherd.plans.models import Feature
from mailherd.tenancy.locks import organization_row_lock
from mailherd.webhooks.payloads import alias_data
from mailherd.webhooks.services import event_emit

MAX_TARGETS = 50


def alias_key(address: str) -> str:
    return f"alias:{address}"


def _clean_address(address: str) -> tuple[str, str]:
    """Return (address, domain); '@domain' (or '*@domain') means the domain's catch-all."""
    raw = (address or "").strip().lower()
    if raw.startswith(("@", "*@")):
        domain_name = clean_domain_name(raw.split("@", 1)[1])
        return f"@{domain_name}", domain_name
    local, domain_name = split_address(raw)
    return f"{local}@{domain_name}", domain_name


def _check_targets(organization, targets: list[str]) -> None:
    if len(targets) > MAX_TARGETS:
        raise ValidationFailed(f"An alias can have at most {MAX_TARGETS} targets.", field="goto")
    own = set(Domain.objects.filter(organization=organization).values_list("name", flat=True))
    external = [t for t in targets if t.split("@", 1)[1] not in own]
    if external and not organization.plan.has_feature(Feature.EXTERNAL_FORWARDING):
        raise PermissionDenied(
            f"Forwarding to addresses outside your domains ({', '.join(external)}) is not part of the "
            f"{organization.plan.name} plan. Upgrade to forward externally.",
            field="goto",
        )


@transaction.atomic
def alias_create(*, actor: Actor, organization, address: str, goto, enabled: bool = True) -> Alias:
    address, domain_name = _clean_address(address)
    targets = clean_alias_targets(goto)
    organization = writable_organization_lock(organization_id=organization.pk)
    domain = _usable_domain(organization, domain_name)
    if address.startswith("@") and not organization.plan.has_feature(Feature.CATCH_ALL):
        raise PermissionDenied(
            f"Catch-all addresses are not part of the {organization.plan.name} plan.",
            field="address",
        )
    if address in targets:
        raise ValidationFailed("An alias cannot forward to itself.", field="goto")
    _check_targets(organization, targets)
    ensure_address_free(address)  # before the plan limit: a taken address never succeeds
    check_limit(organization, "aliases")
    alias = Alias.objects.create(
        organization=organization, domain=domain, address=address, goto=targets, enabled=enabled
    )
    enqueue(
        kind=ProvisioningOp.Kind.ALIAS_CREATE,
        object_key=alias_key(address),
        organization=organization,
        domain_name=domain.name,
    )
    audit_record(
        actor=actor,
        action="alias.create",
        organization=organization,
        obj=alias,
        data={"goto": targets},
    )
    event_emit(
        organization=organization,
        event_type="alias.created",
        data=alias_data(alias),
        object_key=alias_key(address),
    )
    return alias


def _locked_alias(organization, address: str):
    organization, alias = organization_row_lock(organization_id=organization.pk, model=Alias, label="alias", address=address)
    ensure_writable(organization)
    return organization, alias


@transaction.atomic
def alias_update(
    *, actor: Actor, organization, address: str, goto=None, enabled: bool | None = None
) -> Alias:
    organization, alias = _locked_alias(organization, address)
    changes: dict = {}
    if goto is not None:
        targets = clean_alias_targets(goto)
        if alias.address in targets:
            raise ValidationFailed("An alias cannot forward to itself.", field="goto")
        _check_targets(organization, targets)
        if targets != alias.goto:
            changes["goto"] = targets
    if enabled is not None and bool(enabled) != alias.enabled:
        changes["enabled"] = bool(enabled)
    if not changes:
        return alias
    for field, value in changes.items():
        setattr(alias, field, value)
    alias.sync_status = SyncStatus.PENDING
    alias.save()
    enqueue(
        kind=ProvisioningOp.Kind.ALIAS_UPDATE,
        object_key=alias_key(alias.address),
        organization=organization,
        domain_name=alias.domain.name,
    )
    audit_record(
        actor=actor, action="alias.update", organization=organization, obj=alias, data=changes
    )
    return alias


@transaction.atomic
def alias_delete(*, actor: Actor, organization, address: str) -> None:
    organization, alias = _locked_alias(organization, address)
    enqueue(
        kind=ProvisioningOp.Kind.ALIAS_DELETE,
        object_key=alias_key(alias.address),
        organization=organization,
        domain_name=alias.domain.name,
    )
    audit_record(actor=actor, action="alias.delete", organization=organization, obj=alias)
    event_emit(
        organization=organization,
        event_type="alias.deleted",
        data=alias_data(alias),
        object_key=alias_key(alias.address),
    )
    alias.delete()
