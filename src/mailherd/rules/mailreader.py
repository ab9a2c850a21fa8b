"""Read a mailbox's last messages over IMAP (for "test a rule"), with the watcher's credential."""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass

from django.conf import settings

from mailherd.core.errors import MailherdError
from mailherd.imapwatch.message import IncomingMessage

PEEK_BYTES = 256 * 1024  # enough for headers, text and whether there are attachments
TIMEOUT = 15


class MailboxUnreadable(MailherdError):
    code = "mailbox_unreadable"
    http_status = 503


@dataclass
class TestMessage(IncomingMessage):
    full_size: int = 0

    @property
    def size(self) -> int:
        return self.full_size or len(self.raw)


def last_messages(mailbox, *, limit: int = 50) -> list[TestMessage]:
    from imapclient import IMAPClient

    from mailherd.imapwatch.models import WatchedMailbox

    watched = WatchedMailbox.objects.filter(mailbox=mailbox).first()
    server = mailbox.domain.mail_server
    if watched is None or server is None:
        raise MailboxUnreadable("This mailbox cannot be read yet; try again in a minute.")
    host = server.imap_host or server.public_host
    port = server.imap_port
    use_tls = port == 993 or getattr(settings, "MAILHERD_IMAP_WATCH_TLS", False)
    try:
        client = IMAPClient(
            host, port=port, ssl=use_tls, ssl_context=ssl.create_default_context(),
            timeout=TIMEOUT,
        )  # fmt: skip
        try:
            client.login(mailbox.address, watched.app_password)
            folder = client.select_folder("INBOX", readonly=True)
            uidvalidity = int(folder.get(b"UIDVALIDITY", 0))
            uids = sorted(client.search("ALL"))[-limit:]
            if not uids:
                return []
            fetched = client.fetch(uids, ["RFC822.SIZE", f"BODY.PEEK[]<0.{PEEK_BYTES}>"])
        finally:
            with contextlib.suppress(Exception):
                client.logout()
    except (OSError, ssl.SSLError) as exc:
        raise MailboxUnreadable(f"The mail server could not be reached ({exc}); try again soon.")
    except Exception as exc:  # noqa: BLE001 - imapclient's own errors (login refused…)
        raise MailboxUnreadable(f"The mailbox could not be read ({exc}).")
    messages = []
    for uid, data in fetched.items():
        raw = next((v for k, v in data.items() if k.startswith(b"BODY[")), b"") or b""
        messages.append(
            TestMessage(
                mailbox=mailbox,
                folder="INBOX",
                uid=uid,
                uidvalidity=uidvalidity,
                raw=raw,
                full_size=int(data.get(b"RFC822.SIZE") or 0),
            )
        )
    return messages
