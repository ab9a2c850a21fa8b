"""The rules' IMAP-watcher handler: tasks, notes and webhook calls for new mail (exactly once)."""

from mailherd.imapwatch.registry import MessageHandler


class RulesHandler(MessageHandler):
    name = "mail_rules"

    def mailbox_ids(self) -> set[int]:
        from mailherd.rules.selectors import watched_mailbox_ids

        return watched_mailbox_ids()

    def wants(self, mailbox) -> bool:
        from mailherd.rules.selectors import mailbox_has_watcher_rules

        return mailbox_has_watcher_rules(mailbox)

    def folders(self, mailbox) -> set[str]:
        """INBOX, and every folder a rule of the mailbox files mail into."""
        from mailherd.rules.selectors import rules_for_mailbox

        folders = {"INBOX"}
        for rule in rules_for_mailbox(mailbox):
            if any(a["type"] in ("task", "note", "webhook") for a in rule.actions):
                folders |= {a["folder"] for a in rule.actions if a["type"] == "fileinto"}
        return folders

    def handle(self, message) -> None:
        from mailherd.rules.services import message_apply

        message_apply(message)
