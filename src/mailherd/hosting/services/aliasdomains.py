"""Alias domains: every address of a target domain also receives at the alias domain.

An alias domain is a `Domain` row with `alias_of` set, so it is verified by its TXT record like any
domain, counts against the plan's domains, and gets its own records (MX, SPF, its own DKIM key,
DMARC). On Mailcow it is `add/alias-domain` (docs/mailcow.md, read from source); mailboxes and
aliases are never created under it.
"""

from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import NotFound, ValidationFailed
from mailherd.hosting.models import Domain
from mailherd.hosting.validation import clean_domain_name


@transaction.atomic
def alias_domain_add(*, actor: Actor, organization, name: str, target: str) -> Domain:
    """Claim `name` as an alias of the organization's verified domain `target` (plan's domain limit)."""
    from mailherd.hosting.services.domains import domain_add

    target_name = clean_domain_name(target)
    goal = Domain.objects.filter(organization=organization, name=target_name).first()
    if goal is None:
        raise NotFound(f"{target} is not one of your domains.", field="target")
    if goal.alias_of_id:
        raise ValidationFailed(
            f"{goal.unicode_name} is itself an alias domain: choose the domain it points to.",
            field="target",
        )
    if not goal.is_verified:
        raise ValidationFailed(
            f"Verify {goal.unicode_name} first: an alias domain points to a verified domain.",
            field="target",
        )
    if clean_domain_name(name) == target_name:
        raise ValidationFailed("An alias domain cannot point to itself.", field="name")
    domain = domain_add(actor=actor, organization=organization, name=name)
    domain.alias_of = goal
    domain.save(update_fields=["alias_of", "updated_at"])
    audit_record(
        actor=actor,
        action="alias_domain.add",
        organization=organization,
        obj=domain,
        data={"target": goal.name},
    )
    return domain


def alias_domain_list(*, organization):
    return (
        Domain.objects.filter(organization=organization, alias_of__isnull=False)
        .select_related("alias_of", "organization__plan")
        .order_by("name")
    )


def alias_domain_get(*, organization, name: str) -> Domain | None:
    try:
        ascii_name = clean_domain_name(name)
    except ValidationFailed:
        return None
    return (
        alias_domain_list(organization=organization).filter(name=ascii_name).first()
    )


# -- the outbox side -------------------------------------------------------------------------


def sync_alias_domain(domain: Domain, client, *, active: bool) -> None:
    """Make Mailcow hold the alias domain (after its target) with its own DKIM key (`add/dkim_import`)."""
    from mailherd.hosting.provisioning import Transient
    from mailherd.mailcow.client import MailcowAlreadyExists, MailcowNotFound

    target = domain.alias_of
    remote = client.get_alias_domain(domain.name)
    if remote is None:
        try:
            client.add_alias_domain(domain.name, target.name, active=active)
        except MailcowNotFound as exc:
            raise Transient(f"waiting for {target.name} on the mail server") from exc
        except MailcowAlreadyExists:
            pass  # an earlier attempt got through
    elif remote.target != target.name:  # changed behind our back: point it back
        client.delete_alias_domain(domain.name, missing_ok=True)
        client.add_alias_domain(domain.name, target.name, active=active)
    elif remote.active != active:
        client.edit_alias_domain(domain.name, active=active)
    from mailherd.hosting.provisioning import _ensure_dkim

    _ensure_dkim(domain, client)  # its own key, kept by Mailherd like a domain's
