"""Handlers: who wants which mailboxes' new mail.

A handler is registered once (in its app's ``ready()``)::

    from mailherd.imapwatch.registry import MessageHandler, register

    class ReportHandler(MessageHandler):
        name = "dmarc_reports"

        def mailbox_ids(self) -> set[int]:
            return set(ReportMailbox.objects.values_list("mailbox_id", flat=True))

        def handle(self, message) -> None:
            ...  # runs inside the transaction that marks the message seen

    register(ReportHandler())

``handle`` gets an ``IncomingMessage`` (mailherd.imapwatch.message) for each
new message in a mailbox it wants, once. It runs inside a database
transaction together with the watcher's own bookkeeping, so whatever it
writes commits exactly when the message counts as handled; an exception
rolls both back and the message is offered again (up to a few attempts).
It must not do network I/O itself: queue it (e.g. a webhook delivery row).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailherd.hosting.models import Mailbox
    from mailherd.imapwatch.message import IncomingMessage


class MessageHandler:
    name: str = ""

    def mailbox_ids(self) -> set[int]:
        """Ids of the hosting Mailboxes this handler wants to watch now."""
        raise NotImplementedError

    def wants(self, mailbox: Mailbox) -> bool:
        """Whether a new message of `mailbox` goes to this handler (override to make it cheap)."""
        return mailbox.pk in self.mailbox_ids()

    def folders(self, mailbox: Mailbox) -> set[str]:
        """Folders to watch in `mailbox` (INBOX unless a handler needs more)."""
        return {"INBOX"}

    def handle(self, message: IncomingMessage) -> None:
        raise NotImplementedError


_handlers: dict[str, MessageHandler] = {}


def register(handler: MessageHandler) -> MessageHandler:
    if not handler.name:
        raise ValueError("a message handler needs a name")
    _handlers[handler.name] = handler
    return handler


def unregister(name: str) -> None:
    _handlers.pop(name, None)


def handlers() -> list[MessageHandler]:
    return list(_handlers.values())


def wanted_mailbox_ids() -> dict[int, list[MessageHandler]]:
    """Mailbox id → the handlers that want it."""
    wanted: dict[int, list[MessageHandler]] = {}
    for handler in handlers():
        for mailbox_id in handler.mailbox_ids():
            wanted.setdefault(mailbox_id, []).append(handler)
    return wanted
