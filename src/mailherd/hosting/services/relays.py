"""A domain's own smarthost (plan feature `custom_relay`); without one it uses its server's default."""

from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import NotFound, PermissionDenied
from mailherd.hosting.models import Domain, ProvisioningOp
from mailherd.hosting.services.limits import writable_organization_lock
from mailherd.hosting.services.outbox import domain_key, enqueue
from mailherd.hosting.validation import clean_domain_name
from mailherd.plans.models import Feature


def relay_choices(*, organization):
    """The relays a customer may pick for a domain: all the operator's, if the plan allows it."""
    from mailherd.mailcow.models import Relay

    if not organization.plan.has_feature(Feature.CUSTOM_RELAY):
        return Relay.objects.none()
    return Relay.objects.all()


@transaction.atomic
def domain_relay_set(*, actor: Actor, organization, name: str, relay: str | None) -> Domain:
    """Send a domain's outbound mail through the named relay (None: the server's default)."""
    from mailherd.mailcow.relays import relay_get

    organization = writable_organization_lock(organization_id=organization.pk)
    domain = (
        Domain.objects.select_for_update()
        .filter(organization=organization, name=clean_domain_name(name))
        .first()
    )
    if domain is None:
        raise NotFound(f"No domain {name} in this organization.")
    chosen = relay_get(relay) if relay else None
    if chosen is not None and not organization.plan.has_feature(Feature.CUSTOM_RELAY):
        raise PermissionDenied(
            f"Choosing a smarthost per domain is not part of the {organization.plan.name} plan.",
            field="relay",
        )
    if domain.relay_id == (chosen.pk if chosen else None):
        return domain
    before = domain.relay.name if domain.relay_id else None
    domain.relay = chosen
    domain.save(update_fields=["relay", "updated_at"])
    if domain.is_verified:
        enqueue(
            kind=ProvisioningOp.Kind.DOMAIN_UPDATE,
            object_key=domain_key(domain.name),
            organization=organization,
            domain_name=domain.name,
        )
    audit_record(
        actor=actor,
        action="domain.relay",
        organization=organization,
        obj=domain,
        data={"before": before, "after": chosen.name if chosen else None},
    )
    return domain
