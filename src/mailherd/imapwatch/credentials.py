"""Mailherd's own IMAP-only app password per watched mailbox, applied through the outbox."""

from __future__ import annotations

import secrets

from django.db import transaction

from mailherd.hosting.models import Mailbox, SyncStatus
from mailherd.hosting.provisioning import Transient
from mailherd.hosting.services.outbox import enqueue
from mailherd.imapwatch.models import WatchedMailbox
from mailherd.mailcow.client import MailcowBusinessError, MailcowNotFound, Protocol

OP_CREATE = "imapwatch.app_password.create"
OP_DELETE = "imapwatch.app_password.delete"
# The name the mailbox's user sees among their app passwords (no product name: white label).
APP_PASSWORD_NAME = "Automatic mail processing"


def object_key(address: str) -> str:
    return f"watch:{address}"


def new_password() -> str:
    return secrets.token_urlsafe(24)


def queue_create(watched: WatchedMailbox) -> None:
    """Inside the caller's transaction: (re)create the app password on the server."""
    mailbox = watched.mailbox
    enqueue(
        kind=OP_CREATE,
        object_key=object_key(mailbox.address),
        organization=mailbox.organization,
        domain_name=mailbox.domain.name,
        payload={"address": mailbox.address},
    )


def queue_delete(mailbox: Mailbox) -> None:
    enqueue(
        kind=OP_DELETE,
        object_key=object_key(mailbox.address),
        organization=mailbox.organization,
        domain_name=mailbox.domain.name,
        payload={"address": mailbox.address},
    )


def _remove_ours(client, address: str) -> None:
    try:
        existing = client.list_app_passwords(address)
    except MailcowNotFound:
        return
    for app_password in existing:
        if app_password.name == APP_PASSWORD_NAME:
            client.delete_app_password(app_password.id)


def apply_create(op, client, server) -> None:
    """Idempotent: drop any earlier copy of ours, then add the current password."""
    address = op.payload["address"]
    watched = (
        WatchedMailbox.objects.select_related("mailbox").filter(mailbox__address=address).first()
    )
    if watched is None or client is None:
        return
    if watched.mailbox.sync_status == SyncStatus.PENDING:
        raise Transient("waiting for the mailbox to exist on the server")
    _remove_ours(client, address)
    try:
        created = client.add_app_password(
            address,
            name=APP_PASSWORD_NAME,
            password=watched.app_password,
            protocols=[Protocol.IMAP],
        )
    except MailcowBusinessError as exc:
        WatchedMailbox.objects.filter(pk=watched.pk).update(
            credential_status=WatchedMailbox.CredentialStatus.ERROR, last_error=str(exc)[:2000]
        )
        raise
    with transaction.atomic():
        WatchedMailbox.objects.filter(pk=watched.pk).update(
            app_password_id=created.id or None,
            credential_status=WatchedMailbox.CredentialStatus.ACTIVE,
            failures=0,
            retry_at=None,
            last_error="",
        )


def apply_delete(op, client, server) -> None:
    if client is None:
        return
    address = op.payload["address"]
    if WatchedMailbox.objects.filter(mailbox__address=address).exists():
        return  # watched again since: the create row that followed keeps it
    _remove_ours(client, address)
