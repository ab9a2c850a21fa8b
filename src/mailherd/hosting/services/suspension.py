"""Suspension: billing state drives mail state, through the outbox like every other change."""

from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.hosting.models import Mailbox, ProvisioningOp, SyncStatus
from mailherd.hosting.services.mailboxes import mailbox_key
from mailherd.hosting.services.outbox import enqueue
from mailherd.tenancy.locks import organization_lock
from mailherd.tenancy.models import Organization


@transaction.atomic
def organization_mail_suspend(
    *, actor: Actor, organization_id: int, reason: str = ""
) -> Organization:
    """Suspend an organization: its mailboxes stop accepting logins in Mailcow (kept, not deleted).

    Idempotent. Mailboxes are set to Mailcow's active=2 ("login disabled, mail still received")
    so that no incoming mail is lost while the customer settles the bill.
    """
    organization = organization_lock(organization_id=organization_id)
    if organization.status != Organization.Status.SUSPENDED:
        organization.status = Organization.Status.SUSPENDED
        organization.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action="organization.suspend",
            organization=organization,
            obj=organization,
            data={"reason": reason},
        )
        _resync_mailboxes(organization)
    return organization


@transaction.atomic
def organization_mail_restore(*, actor: Actor, organization_id: int) -> Organization:
    """Lift a suspension: mailboxes the customer had enabled can log in again. Idempotent."""
    organization = organization_lock(organization_id=organization_id)
    if organization.status == Organization.Status.SUSPENDED:
        organization.status = Organization.Status.ACTIVE
        organization.save(update_fields=["status"])
        audit_record(
            actor=actor, action="organization.restore", organization=organization, obj=organization
        )
        _resync_mailboxes(organization)
    return organization


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
