"""Mailboxes: create within the plan, change, enable/disable, delete."""

import secrets
from dataclasses import dataclass

from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import MailherdError, NotFound, ValidationFailed
from mailherd.hosting.errors import AddressInUse, DomainNotVerified
from mailherd.hosting.models import Domain, Mailbox, ProvisioningOp, SyncStatus
from mailherd.hosting.selectors import address_in_use
from mailherd.hosting.services.limits import check_limit
from mailherd.hosting.services.outbox import enqueue
from mailherd.hosting.validation import check_password_policy, split_address
from mailherd.plans.selectors import organization_usage_counts
from mailherd.tenancy.locks import organization_lock

DEFAULT_QUOTA_MB = 1024
MAX_NAME_LENGTH = 255


def generate_password() -> str:
    """A password that meets the policy: 20 URL-safe characters."""
    return secrets.token_urlsafe(15)


def mailbox_key(address: str) -> str:
    return f"mailbox:{address}"


def _clean_quota(quota_mb) -> int:
    try:
        quota = int(quota_mb)
    except (TypeError, ValueError):
        raise ValidationFailed("The quota must be a whole number of MiB.", field="quota_mb")
    if quota < 1:
        raise ValidationFailed("The quota must be at least 1 MiB.", field="quota_mb")
    return quota


def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed(
            f"The display name can have at most {MAX_NAME_LENGTH} characters.", field="name"
        )
    return name


def _usable_domain(organization, domain_name: str) -> Domain:
    domain = Domain.objects.filter(organization=organization, name=domain_name).first()
    if domain is None:
        raise NotFound(
            f"{domain_name} is not one of your domains. Add and verify it first.", field="address"
        )
    if not domain.is_verified:
        raise DomainNotVerified(
            f"{domain.unicode_name} is not verified yet: publish its TXT record and verify it before adding mailboxes.",
            field="address",
        )
    return domain


def ensure_address_free(address: str) -> None:
    """An address is never both a mailbox and an alias (nor two of either)."""
    kind = address_in_use(address)
    if kind:
        raise AddressInUse(
            f"{address} is already {'a mailbox' if kind == 'mailbox' else 'an alias'}.",
            field="address",
        )


@dataclass
class MailboxRequest:
    """One mailbox to create, as a customer gave it (validated by the service)."""

    address: str
    password: str | None = None
    quota_mb: object = None
    name: str = ""


@dataclass
class MailboxOutcome:
    request: MailboxRequest
    mailbox: Mailbox | None = None
    password: str = ""  # generated passwords only, to show once
    error: MailherdError | None = None


MAX_BATCH = 500


@transaction.atomic
def mailbox_create(
    *,
    actor: Actor,
    organization,
    address: str,
    password: str | None = None,
    quota_mb=None,
    name: str = "",
) -> tuple[Mailbox, str]:
    """Create a mailbox; return it with its password (generated if none was given, shown once)."""
    request = MailboxRequest(address=address, password=password, quota_mb=quota_mb, name=name)
    organization = organization_lock(organization_id=organization.pk)
    outcome = _create_one(actor, organization, request, domains={}, counts=None)
    return outcome.mailbox, outcome.password or password


@transaction.atomic
def mailbox_create_many(*, actor: Actor, organization, requests: list[MailboxRequest]) -> list[MailboxOutcome]:
    """Create many mailboxes under one organization lock; each is refused or created on its own.

    The same rules as `mailbox_create`, checked item by item against the usage
    that the earlier items left: a refused item leaves no trace and does not
    stop the others.
    """
    if len(requests) > MAX_BATCH:
        raise ValidationFailed(f"Send at most {MAX_BATCH} mailboxes at once.", field="mailboxes")
    organization = organization_lock(organization_id=organization.pk)
    counts = organization_usage_counts(organization=organization, names=("mailboxes", "storage_mb"))
    domains: dict = {}
    outcomes = []
    for request in requests:
        try:
            with transaction.atomic():  # a savepoint: a refused item leaves nothing behind
                outcome = _create_one(actor, organization, request, domains=domains, counts=counts)
        except MailherdError as error:
            outcome = MailboxOutcome(request=request, error=error)
        else:
            counts["mailboxes"] += 1
            counts["storage_mb"] += outcome.mailbox.quota_mb
        outcomes.append(outcome)
    return outcomes


def _create_one(actor: Actor, organization, request: MailboxRequest, *, domains: dict, counts) -> MailboxOutcome:
    """Validate and write one mailbox with its outbox row; the caller holds the organization lock."""
    local, domain_name = split_address(request.address)
    address = f"{local}@{domain_name}"
    quota = _clean_quota(request.quota_mb) if request.quota_mb not in (None, "") else None
    name = _clean_name(request.name)
    generated = not request.password
    password = request.password or generate_password()
    check_password_policy(password, address=address)

    if domain_name not in domains:
        domains[domain_name] = _usable_domain(organization, domain_name)
    domain = domains[domain_name]
    if counts is None:
        counts = organization_usage_counts(organization=organization, names=("mailboxes", "storage_mb"))
    check_limit(organization, "mailboxes", counts=counts)
    if quota is None:
        left = organization.plan.max_storage_mb - counts["storage_mb"]
        quota = min(DEFAULT_QUOTA_MB, left) if left > 0 else DEFAULT_QUOTA_MB
    check_limit(organization, "storage_mb", requested=quota, counts=counts)
    ensure_address_free(address)
    mailbox = Mailbox.objects.create(
        organization=organization, domain=domain, local_part=local, address=address, name=name, quota_mb=quota
    )
    enqueue(
        kind=ProvisioningOp.Kind.MAILBOX_CREATE,
        object_key=mailbox_key(address),
        organization=organization,
        domain_name=domain.name,
        secret=password,
    )
    audit_record(
        actor=actor,
        action="mailbox.create",
        organization=organization,
        obj=mailbox,
        data={"quota_mb": quota, "generated_password": generated},
    )
    return MailboxOutcome(request=request, mailbox=mailbox, password=password if generated else "")


def _locked_mailbox(organization, address: str) -> tuple:
    organization = organization_lock(organization_id=organization.pk)
    mailbox = (
        Mailbox.objects.select_for_update()
        .filter(organization=organization, address=address.strip().lower())
        .first()
    )
    if mailbox is None:
        raise NotFound(f"No mailbox {address} in this organization.")
    return organization, mailbox


@transaction.atomic
def mailbox_update(
    *,
    actor: Actor,
    organization,
    address: str,
    password: str | None = None,
    quota_mb=None,
    name: str | None = None,
    enabled: bool | None = None,
) -> Mailbox:
    """Change any of password, quota (within the plan's storage), display name, enabled."""
    organization, mailbox = _locked_mailbox(organization, address)
    changes: dict = {}
    if quota_mb is not None:
        quota = _clean_quota(quota_mb)
        if quota > mailbox.quota_mb:
            check_limit(
                organization,
                "storage_mb",
                requested=quota - mailbox.quota_mb,
                counts=organization_usage_counts(organization=organization, names=("storage_mb",)),
            )
        if quota != mailbox.quota_mb:
            changes["quota_mb"] = quota
    if name is not None and _clean_name(name) != mailbox.name:
        changes["name"] = _clean_name(name)
    if enabled is not None and bool(enabled) != mailbox.enabled:
        changes["enabled"] = bool(enabled)
    if password:
        check_password_policy(password, address=mailbox.address)
    if not changes and not password:
        return mailbox
    for field, value in changes.items():
        setattr(mailbox, field, value)
    mailbox.sync_status = SyncStatus.PENDING
    mailbox.save()
    enqueue(
        kind=ProvisioningOp.Kind.MAILBOX_UPDATE,
        object_key=mailbox_key(mailbox.address),
        organization=organization,
        domain_name=mailbox.domain.name,
        secret=password or "",
    )
    audit_record(
        actor=actor,
        action="mailbox.update",
        organization=organization,
        obj=mailbox,
        data={**changes, "password_changed": bool(password)},
    )
    return mailbox


@transaction.atomic
def mailbox_delete(*, actor: Actor, organization, address: str) -> None:
    """Delete a mailbox and its mail (on the server, once the outbox applies it)."""
    organization, mailbox = _locked_mailbox(organization, address)
    enqueue(
        kind=ProvisioningOp.Kind.MAILBOX_DELETE,
        object_key=mailbox_key(mailbox.address),
        organization=organization,
        domain_name=mailbox.domain.name,
    )
    audit_record(actor=actor, action="mailbox.delete", organization=organization, obj=mailbox)
    mailbox.delete()
