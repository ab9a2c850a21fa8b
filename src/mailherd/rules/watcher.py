"""The rules' IMAP-watcher handler: tasks, notes and webhook calls for new mail (exactly once)."""

import time

from mailherd.imapwatch.registry import MessageHandler

FOLDERS_TTL = 5.0


def _folder_map() -> tuple[dict[int, set[str]], dict[int, set[str]]]:
    from mailherd.rules.conditions import WATCHER_ACTIONS
    from mailherd.rules.models import Rule

    by_mailbox: dict[int, set[str]] = {}
    by_domain: dict[int, set[str]] = {}
    rows = Rule.objects.filter(enabled=True).values_list("mailbox_id", "domain_id", "actions")
    for mailbox_id, domain_id, actions in rows:
        if not any(a.get("type") in WATCHER_ACTIONS for a in actions):
            continue
        folders = {a["folder"] for a in actions if a.get("type") == "fileinto"}
        if folders:
            target = (
                by_mailbox.setdefault(mailbox_id, set())
                if mailbox_id
                else by_domain.setdefault(domain_id, set())
            )
            target |= folders
    return by_mailbox, by_domain


class RulesHandler(MessageHandler):
    name = "mail_rules"

    def __init__(self):
        self._folders = None
        self._folders_at = 0.0

    def mailbox_ids(self) -> set[int]:
        from mailherd.rules.selectors import watched_mailbox_ids

        return watched_mailbox_ids()

    def wants(self, mailbox) -> bool:
        from mailherd.rules.selectors import mailbox_has_watcher_rules

        return mailbox_has_watcher_rules(mailbox)

    def folders(self, mailbox) -> set[str]:
        """INBOX, and every folder a task, note or webhook rule of the mailbox files mail into.

        Asked for every held mailbox at each rebalance: worked out for all of them in one query,
        kept for a few seconds."""
        now = time.monotonic()
        if self._folders is None or now - self._folders_at > FOLDERS_TTL:
            self._folders, self._folders_at = _folder_map(), now
        by_mailbox, by_domain = self._folders
        return (
            {"INBOX"} | by_mailbox.get(mailbox.pk, set()) | by_domain.get(mailbox.domain_id, set())
        )

    def handle(self, message) -> None:
        from mailherd.rules.services import message_apply

        message_apply(message)
