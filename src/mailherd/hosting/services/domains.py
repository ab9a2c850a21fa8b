"""Domains: add (claim), verify ownership by DNS, provision, remove."""

import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import ConfirmationRequired, NotFound, ValidationFailed
from mailherd.dns.resolver import LookupFailed, lookup_txt
from mailherd.hosting.errors import DomainExists, DomainNotVerified, DomainTaken
from mailherd.hosting.models import Domain, ProvisioningOp
from mailherd.hosting.services.limits import (
    check_limit,
    writable_organization_lock,
)
from mailherd.hosting.services.outbox import domain_key, enqueue
from mailherd.hosting.services.placement import place_organization
from mailherd.hosting.validation import clean_domain_name, clean_new_domain_name
from mailherd.tenancy.locks import organization_lock
from mailherd.webhooks.payloads import domain_data
from mailherd.webhooks.services import event_emit


def _taken_elsewhere(name: str, organization_id: int) -> bool:
    return (
        Domain.objects.filter(name=name, verified_at__isnull=False)
        .exclude(organization_id=organization_id)
        .exists()
    )


@transaction.atomic
def domain_add(*, actor: Actor, organization, name: str) -> Domain:
    """Claim a domain for the organization; it is unverified until its TXT record is found."""
    ascii_name = clean_new_domain_name(name)
    organization = writable_organization_lock(organization_id=organization.pk)
    if Domain.objects.filter(organization=organization, name=ascii_name).exists():
        raise DomainExists(f"{name} is already one of your domains.", field="name")
    if _taken_elsewhere(ascii_name, organization.pk):
        raise DomainTaken(f"{name} is already in use by another organization.", field="name")
    check_limit(organization, "domains")
    from mailherd.operator.selectors import branding_get

    domain = Domain.objects.create(
        organization=organization,
        name=ascii_name,
        verification_token=secrets.token_hex(16),
        verification_word=branding_get().dns_verification_word,
    )
    audit_record(actor=actor, action="domain.add", organization=organization, obj=domain)
    return domain


def domain_verify(*, actor: Actor, domain: Domain) -> Domain:
    """Look up the verification TXT record; on success provision the domain.

    The DNS lookup happens outside any transaction; the claim is then made
    under the organization lock, where a concurrent verification by another
    organization is caught by the unique constraint.
    """
    if domain.is_verified:
        return domain
    try:
        found = lookup_txt(domain.verification_record_name)
        error = (
            ""
            if domain.verification_record_value in found
            else (
                f"{domain.verification_record_name} has other TXT values"
                f" ({', '.join(found)[:200]}) but not ours."
                if found
                else f"There is no TXT record at {domain.verification_record_name} yet."
            )
        )
    except LookupFailed:
        error = "The DNS servers did not answer."
    now = timezone.now()
    if error:
        Domain.objects.filter(pk=domain.pk).update(
            last_verification_at=now, last_verification_error=error[:500]
        )
        raise DomainNotVerified(
            f"{domain.unicode_name} is not verified yet. {error} DNS changes can take a few minutes to appear.",
            record={
                "type": "TXT",
                "name": domain.verification_record_name,
                "value": domain.verification_record_value,
            },
        )
    return _domain_claim(actor=actor, domain_id=domain.pk, now=now)


@transaction.atomic
def _domain_claim(*, actor: Actor, domain_id: int, now) -> Domain:
    domain = Domain.objects.get(pk=domain_id)
    organization = writable_organization_lock(organization_id=domain.organization_id)
    domain = Domain.objects.select_for_update().get(pk=domain_id)
    if domain.is_verified:
        return domain
    if _taken_elsewhere(domain.name, organization.pk):
        raise DomainTaken(f"{domain.unicode_name} was verified by another organization first.")
    server = place_organization(organization)
    if domain.alias_of_id:  # an alias domain lives on its target's server
        server = Domain.objects.get(pk=domain.alias_of_id).mail_server or server
    domain.verified_at = now
    domain.last_verification_at = now
    domain.last_verification_error = ""
    domain.status = Domain.Status.PENDING
    domain.mail_server = server
    try:
        with transaction.atomic():  # another organization's claim may have committed meanwhile
            domain.save()
    except IntegrityError:
        raise DomainTaken(
            f"{domain.unicode_name} was verified by another organization first."
        ) from None
    enqueue(
        kind=ProvisioningOp.Kind.DOMAIN_CREATE,
        object_key=domain_key(domain.name),
        organization=organization,
        domain_name=domain.name,
    )
    audit_record(actor=actor, action="domain.verify", organization=organization, obj=domain)
    event_emit(
        organization=organization,
        event_type="domain.verified",
        data=domain_data(domain),
        object_key=domain_key(domain.name),
    )
    return domain


@transaction.atomic
def domain_delete(
    *, actor: Actor, organization, name: str, confirm: str, force: bool = False
) -> None:
    """Remove a domain with its mailboxes and aliases. `confirm` must repeat the domain's name.

    `force` is the system path for the deletion stage of a suspension
    (`suspension.organization_mail_delete`): it removes the domain although the
    organization is suspended (read-only for everyone else). Audited as forced.
    """
    if force:
        organization = organization_lock(organization_id=organization.pk)
    else:
        organization = writable_organization_lock(organization_id=organization.pk)
    domain = (
        Domain.objects.select_for_update()
        .filter(organization=organization, name=clean_domain_name(name))
        .first()
    )
    if domain is None:
        raise NotFound(f"No domain {name} in this organization.")
    if domain.is_platform:
        raise ValidationFailed(
            f"{domain.unicode_name} is the platform domain, where members' platform addresses live: it cannot be removed while it is.",
            field="name",
        )
    aliases_of_it = list(domain.alias_domains.values_list("name", flat=True))
    if aliases_of_it:
        raise ValidationFailed(
            f"{domain.unicode_name} has alias domains ({', '.join(aliases_of_it)}): remove them first.",
            field="name",
        )
    if (confirm or "").strip().lower().rstrip(".") not in (domain.name, domain.unicode_name):
        raise ConfirmationRequired(
            f"Type {domain.unicode_name} to confirm the removal.", field="confirm"
        )
    if domain.is_verified:
        # Pending changes inside the domain are moot: the server side is wiped as a whole.
        ProvisioningOp.objects.filter(
            status=ProvisioningOp.Status.PENDING, payload__domain=domain.name
        ).exclude(object_key=domain_key(domain.name)).update(
            status=ProvisioningOp.Status.DONE,
            last_error="superseded by the domain's removal",
        )
        enqueue(
            kind=ProvisioningOp.Kind.DOMAIN_DELETE,
            object_key=domain_key(domain.name),
            organization=organization,
            domain_name=domain.name,
            payload={"server_id": domain.mail_server_id, "alias_domain": domain.is_alias_domain},
        )
    audit_record(
        actor=actor,
        action="domain.delete",
        organization=organization,
        obj=domain,
        data={
            "mailboxes": domain.mailboxes.count(),
            "aliases": domain.aliases.count(),
            **({"forced": True} if force else {}),
        },
    )
    domain.delete()


@transaction.atomic
def organization_limits_changed(*, actor: Actor, organization) -> int:
    """Bring the Mailcow limits of every domain in line with the organization's (new) plan.

    Billing and the back office call this after a plan change. Returns the number of domains queued.
    """
    organization = organization_lock(organization_id=organization.pk)
    domains = list(Domain.objects.filter(organization=organization, verified_at__isnull=False))
    for domain in domains:
        enqueue(
            kind=ProvisioningOp.Kind.DOMAIN_UPDATE,
            object_key=domain_key(domain.name),
            organization=organization,
            domain_name=domain.name,
        )
    return len(domains)
