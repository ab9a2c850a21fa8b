"""Every back-office write leaves an audit row: who, from where, what changed (old → new).

`OperatorAdminSite.adopt()` registers each ModelAdmin through `audited()`, which mixes in
`AuditedAdminMixin`: adds, changes and deletes made in a ModelAdmin's forms, inlines and the
delete pages record `admin.<app>.<model>.<add|change|delete>` with the changed fields. When the
save already went through a service that wrote its own audit row (e.g. a plan change, a mail
server added with `add_server`'s service), no second row is written. Secret fields (passwords,
API keys, encrypted fields) are recorded as changed, never with their values. The IP is
`client_ip(request)`: REMOTE_ADDR, or the configured trusted proxy header.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.db import models

from mailherd.core.actors import Actor, client_ip
from mailherd.core.audit import audit_record
from mailherd.core.crypto import EncryptedTextField
from mailherd.core.models import AuditEvent

SECRET_WORDS = ("password", "secret", "api_key", "token", "key_hash", "options", "credential")
HIDDEN = "(changed, not shown)"


def _is_secret(model, name: str) -> bool:
    try:
        field = model._meta.get_field(name)
    except Exception:
        field = None
    if isinstance(field, EncryptedTextField):
        return True
    return any(word in name.lower() for word in SECRET_WORDS)


def _plain(value):
    """A JSON-friendly form of a field's value for the audit row."""
    if isinstance(value, models.Model):
        return str(value)
    if (
        isinstance(value, (list, tuple, set))
        or hasattr(value, "__iter__")
        and not isinstance(value, (str, bytes, dict))
    ):
        try:
            return [_plain(v) for v in value]
        except TypeError:
            return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return f"({len(value)} bytes)"
    if value is None or isinstance(value, (str, int, float, bool, dict)):
        return value
    return str(value)


def form_changes(form, model) -> dict:
    """{field: {"from": old, "to": new}} for the fields the operator changed in `form`."""
    changes = {}
    for name in getattr(form, "changed_data", []) or []:
        if _is_secret(model, name):
            changes[name] = HIDDEN
            continue
        old = form.initial.get(name)
        if old is None and name in form.fields:
            old = form.fields[name].initial
        new = form.cleaned_data.get(name) if hasattr(form, "cleaned_data") else None
        changes[name] = {"from": _plain(old), "to": _plain(new)}
    return changes


def _organization_of(obj):
    from mailherd.tenancy.models import Organization

    if isinstance(obj, Organization):
        return obj
    organization = getattr(obj, "organization", None)
    return organization if isinstance(organization, Organization) else None


class AuditedAdminMixin:
    """Audit the ModelAdmin's writes (see the module docstring).

    The admin's change and delete views already run inside one transaction: the audit row commits
    with the change or not at all.
    """

    def _audit_actor(self, request) -> Actor:
        return Actor.for_user(request.user, ip=client_ip(request))

    @staticmethod
    def _last_audit_id() -> int:
        return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def _audit(self, request, obj, verb: str, data: dict, since: int) -> None:
        # A service called by the save recorded it already (its own words): do not repeat.
        by_service = AuditEvent.objects.filter(pk__gt=since, actor_user=request.user).exclude(
            action__startswith="admin."
        )
        if by_service.exists():
            return
        opts = obj._meta
        organization = _organization_of(obj)
        if verb == "delete" and organization is obj:
            organization = None  # the row is gone: the audit row cannot point at it
        elif organization is not None and verb == "delete":
            from mailherd.tenancy.models import Organization

            if not Organization.objects.filter(pk=organization.pk).exists():
                organization = None
        audit_record(
            actor=self._audit_actor(request),
            action=f"admin.{opts.app_label}.{opts.model_name}.{verb}",
            organization=organization,
            obj=obj,
            data={"id": obj.pk, **data},
        )

    def save_model(self, request, obj, form, change):
        since = self._last_audit_id()
        super().save_model(request, obj, form, change)
        self._audit(
            request,
            obj,
            "change" if change else "add",
            {"changed": form_changes(form, type(obj))},
            since,
        )

    def save_formset(self, request, form, formset, change):
        since = self._last_audit_id()
        super().save_formset(request, form, formset, change)
        for inline_form in getattr(formset, "forms", []):
            obj = inline_form.instance
            if inline_form in getattr(formset, "deleted_forms", []):
                continue
            if obj.pk is None or not inline_form.has_changed():
                continue
            self._audit(
                request,
                obj,
                "change" if inline_form.initial else "add",
                {"changed": form_changes(inline_form, type(obj))},
                since,
            )
        for obj in getattr(formset, "deleted_objects", []):
            self._audit(request, obj, "delete", {}, since)

    def delete_model(self, request, obj):
        since = self._last_audit_id()
        pk, label = obj.pk, str(obj)
        super().delete_model(request, obj)
        obj.pk = pk  # for the row: what was deleted
        self._audit(request, obj, "delete", {"was": label}, since)

    def delete_queryset(self, request, queryset):
        since = self._last_audit_id()
        doomed = list(queryset)
        super().delete_queryset(request, queryset)
        for obj in doomed:
            self._audit(request, obj, "delete", {}, since)


def audited(admin_class: type) -> type:
    """`admin_class` with AuditedAdminMixin mixed in (once)."""
    if issubclass(admin_class, AuditedAdminMixin):
        return admin_class
    return type(
        admin_class.__name__,
        (AuditedAdminMixin, admin_class),
        {"__module__": admin_class.__module__},
    )
