"""A mailbox's spam settings: quarantine notices (how often, which mail) and spam score thresholds."""

from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import ValidationFailed
from mailherd.hosting.models import Mailbox, ProvisioningOp, SyncStatus
from mailherd.hosting.services.limits import ensure_writable
from mailherd.hosting.services.outbox import enqueue
from mailherd.tenancy.locks import organization_row_lock

INTERVALS = ("never", "hourly", "daily", "weekly")
CATEGORIES = ("reject", "add_header", "all")
UNSET = object()


def clean_spam_score(value) -> tuple[float | None, float | None]:
    """`{"low": 5, "high": 15}` -> (5.0, 15.0); None -> the server's defaults."""
    if value is None:
        return None, None
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    try:
        low, high = float(value["low"]), float(value["high"])
    except (TypeError, KeyError, ValueError):
        raise ValidationFailed(
            'Give the spam score as {"low": 5, "high": 15}, or null for the defaults.',
            field="spam_score",
        ) from None
    if not (0 <= low <= high <= 9999):
        raise ValidationFailed(
            "The low score (to Junk) must be at least 0 and at most the high score (refused).",
            field="spam_score",
        )
    return low, high


@transaction.atomic
def mailbox_spam_settings_set(
    *,
    actor: Actor,
    organization,
    address: str,
    quarantine_notification=UNSET,
    quarantine_category=UNSET,
    spam_score=UNSET,
) -> Mailbox:
    """Change any of the notice interval, the notice category and the spam thresholds."""
    changes: dict = {}
    if quarantine_notification is not UNSET:
        if quarantine_notification not in INTERVALS:
            raise ValidationFailed(
                "Quarantine notices are sent never, hourly, daily or weekly.",
                field="quarantine_notification",
            )
        changes["quarantine_notification"] = quarantine_notification
    if quarantine_category is not UNSET:
        if quarantine_category not in CATEGORIES:
            raise ValidationFailed(
                "The notices list rejected mail (reject), mail moved to Junk (add_header) or all.",
                field="quarantine_category",
            )
        changes["quarantine_category"] = quarantine_category
    if spam_score is not UNSET:
        changes["spam_low"], changes["spam_high"] = clean_spam_score(spam_score)
    organization, mailbox = organization_row_lock(
        organization_id=organization.pk, model=Mailbox, label="mailbox", address=address
    )
    ensure_writable(organization)
    changes = {k: v for k, v in changes.items() if getattr(mailbox, k) != v}
    if not changes:
        return mailbox
    for key, value in changes.items():
        setattr(mailbox, key, value)
    mailbox.sync_status = SyncStatus.PENDING
    mailbox.save(update_fields=[*changes, "sync_status", "updated_at"])
    enqueue(
        kind=ProvisioningOp.Kind.MAILBOX_UPDATE,
        object_key=f"mailbox:{mailbox.address}",
        organization=organization,
        domain_name=mailbox.domain.name,
        payload={"spam_settings": True},
    )
    audit_record(
        actor=actor,
        action="mailbox.spam_settings",
        organization=organization,
        obj=mailbox,
        data=changes,
    )
    return mailbox
