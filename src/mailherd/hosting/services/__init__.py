"""Writes for domains, mailboxes and aliases; every change goes through the provisioning outbox."""

from mailherd.hosting.services.aliases import alias_create, alias_delete, alias_update
from mailherd.hosting.services.domains import (
    domain_add,
    domain_delete,
    domain_verify,
    organization_limits_changed,
)
from mailherd.hosting.services.mailboxes import mailbox_create, mailbox_delete, mailbox_update
from mailherd.hosting.services.suspension import (
    organization_mail_restore,
    organization_mail_suspend,
)

__all__ = [
    "alias_create",
    "alias_delete",
    "alias_update",
    "domain_add",
    "domain_delete",
    "domain_verify",
    "mailbox_create",
    "mailbox_delete",
    "mailbox_update",
    "organization_limits_changed",
    "organization_mail_restore",
    "organization_mail_suspend",
]
