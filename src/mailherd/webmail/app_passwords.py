"""App passwords: one per mail app, per mailbox, created in Mailcow through the outbox.

In single sign-on mode they are a mailbox's only passwords (Mailcow's
`generic-oidc` mailboxes accept nothing else on IMAP, SMTP, POP3, DAV, EAS
and Sieve).
"""

import secrets

from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import NotFound, ValidationFailed
from mailherd.hosting.models import Mailbox, ProvisioningOp
from mailherd.hosting.services.mailboxes import mailbox_key
from mailherd.hosting.services.outbox import enqueue
from mailherd.tenancy.locks import organization_row_lock
from mailherd.webmail.models import AppPassword

MAX_PER_MAILBOX = 20
DEFAULT_PROTOCOLS = ("imap", "smtp")


def _clean(name: str, protocols) -> tuple[str, list[str]]:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed(
            "Give the app password a name, like the app or device that uses it.", field="name"
        )
    if len(name) > 60:
        raise ValidationFailed("The name can have at most 60 characters.", field="name")
    wanted = list(dict.fromkeys(p.strip().lower() for p in (protocols or DEFAULT_PROTOCOLS)))
    unknown = [p for p in wanted if p not in AppPassword.PROTOCOLS]
    if unknown:
        raise ValidationFailed(
            f"Unknown protocol {', '.join(unknown)}: use {', '.join(AppPassword.PROTOCOLS)}.",
            field="protocols",
        )
    if not wanted:
        raise ValidationFailed("Choose at least one protocol.", field="protocols")
    return name, wanted


def generate_app_password() -> str:
    # Four groups a person can type from a phone screen; ~100 bits.
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


def _locked(organization, address):
    from mailherd.hosting.services.limits import ensure_writable

    organization, mailbox = organization_row_lock(
        organization_id=organization.pk, model=Mailbox, label="mailbox", address=address
    )
    ensure_writable(organization)
    return organization, mailbox


@transaction.atomic
def app_password_create(
    *, actor: Actor, organization, address: str, name: str, protocols=None
) -> tuple[AppPassword, str]:
    """Create an app password; return it with the password (shown once, never stored here)."""
    clean_name, wanted = _clean(name, protocols)
    organization, mailbox = _locked(organization, address)
    if AppPassword.objects.filter(mailbox=mailbox).count() >= MAX_PER_MAILBOX:
        raise ValidationFailed(
            f"A mailbox can have at most {MAX_PER_MAILBOX} app passwords: revoke one first."
        )
    password = generate_app_password()
    app_password = AppPassword.objects.create(
        mailbox=mailbox,
        name=clean_name,
        protocols=wanted,
        created_by=actor.user,
        pending_secret=password,
    )
    enqueue(
        kind=ProvisioningOp.Kind.APP_PASSWORD_CREATE,
        object_key=mailbox_key(mailbox.address),
        organization=organization,
        domain_name=mailbox.domain.name,
        payload={"app_password_id": app_password.pk},
    )
    audit_record(
        actor=actor,
        action="app_password.create",
        organization=organization,
        obj=mailbox,
        data={"name": clean_name, "protocols": wanted},
    )
    return app_password, password


@transaction.atomic
def app_password_delete(*, actor: Actor, organization, address: str, app_password_id) -> None:
    organization, mailbox = _locked(organization, address)
    app_password = AppPassword.objects.filter(mailbox=mailbox, pk=_id(app_password_id)).first()
    if app_password is None:
        raise NotFound("No such app password on this mailbox.")
    enqueue(
        kind=ProvisioningOp.Kind.APP_PASSWORD_DELETE,
        object_key=mailbox_key(mailbox.address),
        organization=organization,
        domain_name=mailbox.domain.name,
        payload={"mailcow_id": app_password.mailcow_id, "mailcow_name": app_password.mailcow_name},
    )
    audit_record(
        actor=actor,
        action="app_password.delete",
        organization=organization,
        obj=mailbox,
        data={"name": app_password.name},
    )
    app_password.delete()


def _id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound("No such app password on this mailbox.")


def app_password_list(*, organization, address: str):
    mailbox = Mailbox.objects.filter(
        organization=organization, address=(address or "").strip().lower()
    ).first()
    if mailbox is None:
        raise NotFound("No such mailbox.")
    return list(AppPassword.objects.filter(mailbox=mailbox))


def app_password_out(app_password, password: str | None = None) -> dict:
    out = {
        "id": app_password.pk,
        "name": app_password.name,
        "protocols": app_password.protocols,
        "status": app_password.sync_status,
        "created_at": app_password.created_at.isoformat(),
    }
    if password is not None:
        out["password"] = password
    return out


# -- outbox handlers (registered in apps.ready) -----------------------------------


def _apply_create(op, client, server) -> None:
    from mailherd.hosting.provisioning import Transient

    app_password = (
        AppPassword.objects.select_related("mailbox")
        .filter(pk=op.payload.get("app_password_id"))
        .first()
    )
    if app_password is None or client is None:
        return  # revoked before it was applied
    if app_password.mailcow_id:
        return
    address = app_password.mailbox.address
    existing = [
        p for p in client.list_app_passwords(address) if p.name == app_password.mailcow_name
    ]
    if existing:  # an earlier attempt got through
        created = existing[0]
    else:
        if not app_password.pending_secret:
            raise Transient("the app password's secret is gone; revoke it and create a new one")
        created = client.add_app_password(
            address,
            name=app_password.mailcow_name,
            password=app_password.pending_secret,
            protocols=app_password.protocols,
        )
    AppPassword.objects.filter(pk=app_password.pk).update(
        mailcow_id=created.id, sync_status="active", pending_secret=""
    )


def _apply_delete(op, client, server) -> None:
    if client is None:
        return
    mailcow_id = op.payload.get("mailcow_id")
    address = op.object_key.split(":", 1)[1]
    if not mailcow_id:  # deleted before its create was applied, or its id was never seen
        matches = [
            p
            for p in client.list_app_passwords(address)
            if p.name == op.payload.get("mailcow_name")
        ]
        mailcow_id = matches[0].id if matches else None
    if mailcow_id:
        from mailherd.mailcow.client import MailcowNotFound

        try:
            client.delete_app_password(int(mailcow_id))
        except MailcowNotFound:
            pass


def register_outbox_handlers() -> None:
    from mailherd.hosting.provisioning import HANDLERS

    HANDLERS[ProvisioningOp.Kind.APP_PASSWORD_CREATE] = _apply_create
    HANDLERS[ProvisioningOp.Kind.APP_PASSWORD_DELETE] = _apply_delete
