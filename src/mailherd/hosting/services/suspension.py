"""Suspension: billing state drives mail state, through the outbox like every other change.

Stages (`Organization.suspension_stage`; `status` is SUSPENDED in all of them):

1. login_disabled (`organization_mail_suspend`): mailboxes refuse logins but keep
   receiving mail (Mailcow active=2);
2. deactivated (`organization_mail_deactivate`): mailboxes and domains are inactive
   (active=0): mail is refused;
3. deleted (`organization_mail_delete`): the organization's domains, with their
   mailboxes and aliases, are removed here and on the server. The account stays.

`organization_mail_restore` lifts any stage. Nothing here edits a mailbox's or a
domain's own settings: the outbox worker derives Mailcow's flags from the stage
(`provisioning._desired_active`, `_desired_domain_active`), so restoring returns
each object to exactly what the customer had (a disabled mailbox stays disabled).
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import ValidationFailed
from mailherd.hosting.models import Domain, Mailbox, ProvisioningOp, SyncStatus
from mailherd.hosting.services.mailboxes import mailbox_key
from mailherd.hosting.services.outbox import domain_key, enqueue
from mailherd.tenancy.locks import organization_lock
from mailherd.tenancy.models import Organization
from mailherd.webhooks.payloads import organization_data
from mailherd.webhooks.services import event_emit

Stage = Organization.SuspensionStage


@transaction.atomic
def organization_mail_suspend(
    *, actor: Actor, organization_id: int, reason: str = "", now: datetime | None = None
) -> Organization:
    """Suspend an organization: its mailboxes stop accepting logins in Mailcow (kept, not deleted).

    Idempotent. Mailboxes are set to Mailcow's active=2 ("login disabled, mail still received")
    so that no incoming mail is lost while the customer settles the bill. `now` is when the
    suspension counts from (the later stages are timed from it).
    """
    organization = organization_lock(organization_id=organization_id)
    if organization.status != Organization.Status.SUSPENDED:
        organization.status = Organization.Status.SUSPENDED
        organization.suspension_stage = Stage.LOGIN_DISABLED
        organization.suspended_at = now or timezone.now()
        organization.save(update_fields=["status", "suspension_stage", "suspended_at"])
        audit_record(
            actor=actor,
            action="organization.suspend",
            organization=organization,
            obj=organization,
            data={"reason": reason},
        )
        event_emit(
            organization=organization,
            event_type="organization.suspended",
            data=organization_data(organization, reason=reason),
            object_key=f"organization:{organization.pk}",
        )
        _resync_mailboxes(organization)
    return organization


@transaction.atomic
def organization_mail_deactivate(
    *, actor: Actor, organization_id: int, reason: str = "", now: datetime | None = None
) -> Organization:
    """Stage 2: mailboxes and domains inactive in Mailcow (incoming mail refused). Idempotent.

    Suspends first if the organization is not suspended yet (the operator may go straight
    here). Does nothing once the data was deleted.
    """
    organization = organization_mail_suspend(
        actor=actor, organization_id=organization_id, reason=reason, now=now
    )
    if organization.suspension_stage == Stage.LOGIN_DISABLED:
        organization.suspension_stage = Stage.DEACTIVATED
        organization.save(update_fields=["suspension_stage"])
        audit_record(
            actor=actor,
            action="organization.deactivate",
            organization=organization,
            obj=organization,
            data={"reason": reason},
        )
        _resync_domains(organization)
        _resync_mailboxes(organization)
    return organization


@transaction.atomic
def organization_mail_delete(*, actor: Actor, organization_id: int, reason: str = "") -> list[str]:
    """Stage 3: remove every domain of a suspended organization (mailboxes and aliases with them).

    Each domain goes through `domain_delete` (which queues the server-side removal and
    audits each domain) on its system path, since the organization is read-only while
    suspended. The organization, its members, subscription and invoices stay. Refused
    unless the organization is suspended; idempotent. Returns the names removed.
    """
    from mailherd.hosting.services.domains import domain_delete

    organization = organization_lock(organization_id=organization_id)
    if not organization.is_suspended:
        raise ValidationFailed("Only a suspended organization's mail data can be deleted.")
    names = list(
        Domain.objects.filter(organization=organization).order_by("name").values_list("name", flat=True)
    )
    for name in names:
        domain_delete(actor=actor, organization=organization, name=name, confirm=name, force=True)
    # The members' platform addresses (on the operator's domain) go with the organization's mail data.
    for mailbox in Mailbox.objects.filter(organization=organization, is_system=True).select_related("domain"):
        enqueue(kind=ProvisioningOp.Kind.MAILBOX_DELETE, object_key=mailbox_key(mailbox.address),
                organization=organization, domain_name=mailbox.domain.name)
        audit_record(actor=actor, action="platform_mailbox.delete", organization=organization, obj=mailbox,
                     data={"reason": reason or "mail data deleted"})
        mailbox.delete()
    if organization.suspension_stage != Stage.DELETED:
        organization.suspension_stage = Stage.DELETED
        organization.save(update_fields=["suspension_stage"])
        audit_record(
            actor=actor,
            action="organization.mail_delete",
            organization=organization,
            obj=organization,
            data={"reason": reason, "domains": names},
        )
    return names


@transaction.atomic
def organization_mail_restore(*, actor: Actor, organization_id: int) -> Organization:
    """Lift a suspension at any stage: domains active again, mailboxes as the customer left them.

    Idempotent.
    """
    organization = organization_lock(organization_id=organization_id)
    if organization.status == Organization.Status.SUSPENDED:
        previous = organization.suspension_stage
        organization.status = Organization.Status.ACTIVE
        organization.suspension_stage = Stage.NONE
        organization.suspended_at = None
        organization.save(update_fields=["status", "suspension_stage", "suspended_at"])
        audit_record(
            actor=actor,
            action="organization.restore",
            organization=organization,
            obj=organization,
            data={"stage": previous},
        )
        event_emit(
            organization=organization,
            event_type="organization.restored",
            data=organization_data(organization),
            object_key=f"organization:{organization.pk}",
        )
        if previous != Stage.LOGIN_DISABLED:
            _resync_domains(organization)  # first: a domain's rows run before its mailboxes'
        _resync_mailboxes(organization)
    return organization


def _resync_domains(organization) -> None:
    """Queue every provisioned domain for a sync; the worker derives its active flag from the stage."""
    for name in Domain.objects.filter(
        organization=organization, verified_at__isnull=False
    ).values_list("name", flat=True):
        enqueue(
            kind=ProvisioningOp.Kind.DOMAIN_UPDATE,
            object_key=domain_key(name),
            organization=organization,
            domain_name=name,
        )


def _resync_mailboxes(organization) -> None:
    """Queue every mailbox for a sync; the worker derives Mailcow's active flag from the current state."""
    mailboxes = Mailbox.objects.filter(organization=organization).select_related("domain")
    mailboxes.update(sync_status=SyncStatus.PENDING)
    for mailbox in mailboxes:
        enqueue(
            kind=ProvisioningOp.Kind.MAILBOX_UPDATE,
            object_key=mailbox_key(mailbox.address),
            organization=organization,
            domain_name=mailbox.domain.name,
        )
