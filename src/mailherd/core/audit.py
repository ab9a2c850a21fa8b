from mailherd.core.actors import Actor
from mailherd.core.models import AuditEvent


def audit_record(
    *, actor: Actor, action: str, organization=None, obj=None, data: dict | None = None
) -> AuditEvent:
    """Record a change; call inside the service's transaction so both commit or neither."""
    event = audit_event(actor=actor, action=action, organization=organization, obj=obj, data=data)
    event.save()
    return event


def audit_event(
    *, actor: Actor, action: str, organization=None, obj=None, data: dict | None = None
) -> AuditEvent:
    """An unsaved audit row, for services that write many at once (bulk_create)."""
    return AuditEvent(
        organization=organization,
        actor_kind=actor.kind,
        actor_label=actor.label[:255],
        actor_user=actor.user,
        action=action,
        object_type=type(obj).__name__ if obj is not None else "",
        object_repr=str(obj)[:255] if obj is not None else "",
        data=data or {},
        ip=actor.ip,
    )
