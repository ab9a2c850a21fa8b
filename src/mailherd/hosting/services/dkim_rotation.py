"""DKIM key rotation without a moment where mail is unsigned or its signature cannot be checked.

Mailcow holds one key per domain and signs with it at once, so the steps are:

1. start: Mailherd makes the new key (MAILHERD_DKIM_KEY_BITS) under a new selector and shows its
   record beside the current one; Mailcow keeps signing with the current key.
2. switch: once the new record resolves (checked every sweep), the domain's key becomes the new
   one and the outbox installs it (`add/dkim_import`, replacing the old key); the old record is
   still shown, to keep for MAILHERD_DKIM_ROTATION_OVERLAP_DAYS (mail signed just before the
   switch is still being verified somewhere).
3. done: the owners are told the old record may go.

By hand (portal, API, MCP), or on the operator's schedule (MAILHERD_DKIM_ROTATION_DAYS).
"""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import Conflict, NotFound, ValidationFailed
from mailherd.hosting.models import DkimRotation, Domain, ProvisioningOp
from mailherd.hosting.services.limits import writable_organization_lock
from mailherd.hosting.services.outbox import domain_key, enqueue
from mailherd.hosting.validation import clean_domain_name


class RotationInProgress(Conflict):
    code = "dkim_rotation_in_progress"


def dkim_txt_for(private_pem: str) -> str:
    """The TXT value for a key, as Mailcow writes it."""
    from mailherd.hosting.dkim import dkim_public_b64

    return f"v=DKIM1;k=rsa;t=s;s=email;p={dkim_public_b64(private_pem)}"


def dkim_key_bits(private_pem: str) -> int:
    from cryptography.hazmat.primitives import serialization

    if not private_pem:
        return 0
    return serialization.load_pem_private_key(private_pem.encode(), password=None).key_size


def _new_selector(current: str, now) -> str:
    base = f"s{now:%Y%m%d}"
    selector = base
    suffix = ord("a")
    while selector == current:
        selector = f"{base}{chr(suffix)}"
        suffix += 1
    return selector


def dkim_rotation_open(*, domain) -> DkimRotation | None:
    return domain.dkim_rotations.filter(status__in=DkimRotation.OPEN).first()


def _domain_for(organization, name: str) -> Domain:
    domain = (
        Domain.objects.select_for_update()
        .filter(organization=organization, name=clean_domain_name(name))
        .first()
    )
    if domain is None:
        raise NotFound(f"No domain {name} in this organization.")
    return domain


@transaction.atomic
def dkim_rotation_start(*, actor: Actor, organization, name: str, now=None) -> DkimRotation:
    """Make the domain's next key and show its record; nothing changes for mail yet."""
    from mailherd.hosting.dkim import dkim_key_generate

    now = now or timezone.now()
    organization = writable_organization_lock(organization_id=organization.pk)
    domain = _domain_for(organization, name)
    if not domain.is_verified or not domain.dkim_txt:
        raise ValidationFailed(
            f"{domain.name} has no DKIM key yet: it gets one once it is verified and set up."
        )
    if domain.alias_of_id:
        raise ValidationFailed("An alias domain's key follows its own set-up; rotate it there.")
    if dkim_rotation_open(domain=domain) is not None:
        raise RotationInProgress(f"A DKIM key change of {domain.name} is already under way.")
    private = dkim_key_generate()
    try:
        with transaction.atomic():
            rotation = DkimRotation.objects.create(
                domain=domain,
                new_selector=_new_selector(domain.dkim_selector, now),
                new_private_key=private,
                new_txt=dkim_txt_for(private),
                old_selector=domain.dkim_selector,
                old_txt=domain.dkim_txt,
                started_by=actor.label[:255],
            )
    except IntegrityError:  # another start won the race
        raise RotationInProgress(f"A DKIM key change of {domain.name} is already under way.")
    audit_record(
        actor=actor,
        action="domain.dkim_rotate",
        organization=organization,
        obj=domain,
        data={"selector": rotation.new_selector, "bits": dkim_key_bits(private)},
    )
    return rotation


@transaction.atomic
def dkim_rotation_cancel(*, actor: Actor, organization, name: str) -> DkimRotation:
    """Stop a change whose new key is not in use yet (the new record may simply be removed)."""
    organization = writable_organization_lock(organization_id=organization.pk)
    domain = _domain_for(organization, name)
    rotation = dkim_rotation_open(domain=domain)
    if rotation is None:
        raise NotFound(f"No DKIM key change of {domain.name} is under way.")
    if rotation.status != DkimRotation.Status.PUBLISHING:
        raise RotationInProgress(
            "The new key is already signing mail; the change finishes by itself."
        )
    rotation.status = DkimRotation.Status.CANCELLED
    rotation.finished_at = timezone.now()
    rotation.save(update_fields=["status", "finished_at"])
    audit_record(
        actor=actor, action="domain.dkim_rotate_cancel", organization=organization, obj=domain
    )
    return rotation


def _new_record_resolves(rotation) -> bool:
    from mailherd.dns import checks
    from mailherd.dns.records import KEY_DKIM, Record

    domain = rotation.domain
    record = Record(
        "TXT",
        f"{rotation.new_selector}._domainkey.{domain.name}",
        rotation.new_txt,
        key=KEY_DKIM,
        zone=domain.name,
    )
    results, _ms = checks.check_records_sync([record])
    return bool(results) and results[0].status == "ok"


def _switch(rotation_id: int, now) -> bool:
    with transaction.atomic():
        rotation = (
            DkimRotation.objects.select_for_update()
            .select_related("domain__organization")
            .filter(pk=rotation_id, status=DkimRotation.Status.PUBLISHING)
            .first()
        )
        if rotation is None:
            return False
        domain = Domain.objects.select_for_update().get(pk=rotation.domain_id)
        rotation.old_selector, rotation.old_txt = domain.dkim_selector, domain.dkim_txt
        domain.dkim_selector = rotation.new_selector
        domain.dkim_txt = rotation.new_txt
        domain.dkim_private_key = rotation.new_private_key
        domain.save(update_fields=["dkim_selector", "dkim_txt", "dkim_private_key", "updated_at"])
        rotation.status = DkimRotation.Status.SWITCHED
        rotation.switched_at = now
        rotation.save(update_fields=["status", "switched_at", "old_selector", "old_txt"])
        enqueue(  # the outbox installs the key on the server (replacing the old one)
            kind=ProvisioningOp.Kind.DOMAIN_UPDATE,
            object_key=domain_key(domain.name),
            organization=domain.organization,
            domain_name=domain.name,
        )
        audit_record(
            actor=Actor.system(),
            action="domain.dkim_switch",
            organization=domain.organization,
            obj=domain,
            data={"selector": domain.dkim_selector, "previous": rotation.old_selector},
        )
    return True


def _finish(rotation_id: int, now) -> bool:
    from mailherd.notifications.services import email_send
    from mailherd.tenancy.models import Membership, Role

    with transaction.atomic():
        rotation = (
            DkimRotation.objects.select_for_update()
            .select_related("domain__organization")
            .filter(pk=rotation_id, status=DkimRotation.Status.SWITCHED)
            .first()
        )
        if rotation is None:
            return False
        rotation.status = DkimRotation.Status.DONE
        rotation.finished_at = now
        rotation.save(update_fields=["status", "finished_at"])
        domain = rotation.domain
        context = {
            "domain": domain,
            "old_record": f"{rotation.old_selector}._domainkey.{domain.name}",
            "new_record": f"{rotation.new_selector}._domainkey.{domain.name}",
        }
        owners = Membership.objects.filter(
            organization=domain.organization, role__in=(Role.OWNER, Role.ADMIN)
        ).select_related("user")
        recipients = [m.user.email for m in owners]
    for address in recipients:  # after the commit: a failed send is logged, never raised
        email_send(
            to=address,
            template="dns_dkim_rotated",
            context=context,
            organization=domain.organization,
        )
    return True


def _due_for_schedule(now) -> list[Domain]:
    days = settings.MAILHERD_DKIM_ROTATION_DAYS
    if not days:
        return []
    cutoff = now - timedelta(days=days)
    due = []
    candidates = Domain.objects.filter(
        verified_at__isnull=False, verified_at__lte=cutoff, alias_of__isnull=True
    ).exclude(dkim_txt="")
    for domain in candidates.select_related("organization"):
        last = domain.dkim_rotations.exclude(status=DkimRotation.Status.CANCELLED).first()
        if last is None or (last.status == DkimRotation.Status.DONE and last.switched_at <= cutoff):
            due.append(domain)
    return due


def dkim_rotations_advance(*, now=None) -> dict[str, int]:
    """The periodic step: switch rotations whose record resolves, finish those past the overlap,
    and start the ones the operator's schedule asks for. Returns what it did."""
    now = now or timezone.now()
    done = {"started": 0, "switched": 0, "finished": 0}
    for domain in _due_for_schedule(now):
        try:
            dkim_rotation_start(
                actor=Actor.system(), organization=domain.organization, name=domain.name, now=now
            )
            done["started"] += 1
        except (Conflict, ValidationFailed, NotFound):
            continue
    publishing = DkimRotation.objects.filter(status=DkimRotation.Status.PUBLISHING).select_related(
        "domain"
    )
    for rotation in publishing:
        if _new_record_resolves(rotation) and _switch(rotation.pk, now):
            done["switched"] += 1
    overlap = timedelta(days=settings.MAILHERD_DKIM_ROTATION_OVERLAP_DAYS)
    for rotation_id in DkimRotation.objects.filter(
        status=DkimRotation.Status.SWITCHED, switched_at__lte=now - overlap
    ).values_list("pk", flat=True):
        if _finish(rotation_id, now):
            done["finished"] += 1
    return done


def dkim_rotation_records(domain) -> list[tuple[str, str, str, str, bool]]:
    """The extra DKIM rows a rotation needs on the records page:
    (selector, txt, purpose, key, optional)."""
    from mailherd.dns.records import KEY_DKIM_NEXT, KEY_DKIM_PREVIOUS

    if hasattr(domain, "open_dkim_rotations"):  # read along (dns.selectors.with_record_inputs)
        rotation = next(iter(domain.open_dkim_rotations), None)
    else:
        rotation = dkim_rotation_open(domain=domain) if domain.pk else None
    if rotation is None:
        return []
    if rotation.status == DkimRotation.Status.PUBLISHING:
        return [
            (
                rotation.new_selector,
                rotation.new_txt,
                "DKIM key, next (publish now; signing switches once it is visible)",
                KEY_DKIM_NEXT,
                False,
            )
        ]
    until = rotation.switched_at + timedelta(days=settings.MAILHERD_DKIM_ROTATION_OVERLAP_DAYS)
    return [
        (
            rotation.old_selector,
            rotation.old_txt,
            f"DKIM key, previous (keep until {until:%Y-%m-%d}, then remove)",
            KEY_DKIM_PREVIOUS,
            True,
        )
    ]
