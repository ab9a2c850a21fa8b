"""Rules → one Sieve script per mailbox, built with sievelib's command tree, pushed via the outbox.

The script is a Mailcow `prefilter` described SCRIPT_DESCRIPTION; the out-of-office reply is a
`postfilter` of its own (webmail/autoreply.py), so neither replaces the other. Mailcow parses
each script it is given and answers `sieve_error` with the line; the rules of that mailbox then
show status "error" with that message, and the previous script stays in place.
"""

from __future__ import annotations

import io
import logging

from django.db import transaction
from django.utils import timezone
from sievelib import commands, tools
from sievelib.factory import FiltersSet

from mailherd.hosting.models import Mailbox
from mailherd.hosting.services.mailboxes import mailbox_key
from mailherd.hosting.services.outbox import enqueue
from mailherd.mailcow.client import MailcowInvalidInput

logger = logging.getLogger(__name__)

OP_PUSH = "rules.sieve"
SCRIPT_DESCRIPTION = "Mail rules"
FILTER_TYPE = "prefilter"


def _quote(value: str) -> str:
    return tools.quote(value)


def _matches_prefix(value: str) -> str:
    """`starts with` as a :matches pattern: the wildcards in the text itself are escaped."""
    escaped = value.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
    return escaped + "*"


class _Builder:
    def __init__(self, filters: FiltersSet):
        self.filters = filters

    def _string_test(self, name: str, parent, op: str, keys: list[str] | str, value: str):
        """header / address / envelope / body test with a match type."""
        cmd = commands.get_command_instance(name, parent, False)
        if name in ("address", "envelope"):
            cmd.check_next_arg("tag", ":all")
        if name == "body":
            self.filters.require("body")
            cmd.check_next_arg("tag", ":text")
        if name == "envelope":
            self.filters.require("envelope")
        if op == "regex":
            self.filters.require("regex")
            cmd.check_next_arg("tag", ":regex", check_extension=False)
        elif op == "starts_with":
            cmd.check_next_arg("tag", ":matches")
            value = _matches_prefix(value)
        else:
            cmd.check_next_arg("tag", ":is" if op == "is" else ":contains")
        if name != "body":
            if isinstance(keys, list):
                cmd.check_next_arg("stringlist", [_quote(k) for k in keys])
            else:
                cmd.check_next_arg("string", _quote(keys))
        cmd.check_next_arg("string", _quote(value))
        return cmd

    def test(self, condition: dict, parent):
        field, op, value = condition["field"], condition["op"], condition["value"]
        if field == "size":
            cmd = commands.get_command_instance("size", parent)
            cmd.check_next_arg("tag", ":over")
            cmd.check_next_arg("number", int(value))
            return cmd
        if field == "attachment":
            # A message with attachments is multipart/mixed (what mail clients send).
            cmd = commands.get_command_instance("header", parent)
            cmd.check_next_arg("tag", ":contains")
            cmd.check_next_arg("string", _quote("content-type"))
            cmd.check_next_arg("string", _quote("multipart/mixed"))
            if value:
                return cmd
            negated = commands.get_command_instance("not", parent)
            negated.check_next_arg("test", cmd)
            return negated
        if field == "from":
            return self._string_test("address", parent, op, ["from"], value)
        if field == "to":
            either = commands.get_command_instance("anyof", parent)
            either.check_next_arg(
                "test", self._string_test("address", either, op, ["to", "cc"], value)
            )
            either.check_next_arg("test", self._string_test("envelope", either, op, "to", value))
            return either
        if field == "subject":
            return self._string_test("header", parent, op, ["subject"], value)
        if field == "body":
            return self._string_test("body", parent, op, [], value)
        return self._string_test("header", parent, op, [field.split(":", 1)[1]], value)

    def action(self, action: dict, parent) -> list:
        kind = action["type"]
        if kind == "forward":
            made = []
            for target in action["to"]:
                cmd = commands.get_command_instance("redirect", parent, False)
                if action.get("keep_copy", True):
                    self.filters.require("copy")
                    cmd.check_next_arg("tag", ":copy", check_extension=False)
                cmd.check_next_arg("string", _quote(target))
                made.append(cmd)
            return made
        if kind == "fileinto":
            self.filters.require("fileinto")
            self.filters.require("mailbox")
            cmd = commands.get_command_instance("fileinto", parent, False)
            cmd.check_next_arg("tag", ":create", check_extension=False)
            cmd.check_next_arg("string", _quote(action["folder"]))
            return [cmd]
        if kind == "mark_read":
            self.filters.require("imap4flags")
            cmd = commands.get_command_instance("addflag", parent, False)
            cmd.check_next_arg("string", _quote("\\Seen"))
            return [cmd]
        if kind == "discard":
            return [commands.get_command_instance("discard", parent)]
        return []  # task, note, webhook: done by the watcher

    def rule(self, rule) -> commands.Command | None:
        sieve_actions = [a for a in rule.actions if a["type"] in ("forward", "fileinto")]
        sieve_actions += [a for a in rule.actions if a["type"] in ("mark_read", "discard")]
        stop = rule.stop or any(a["type"] == "discard" for a in rule.actions)
        if not sieve_actions and not stop:
            return None  # nothing for the server to do: the watcher acts alone
        ifcontrol = commands.get_command_instance("if")
        if rule.conditions:
            group = commands.get_command_instance(
                "anyof" if rule.match == "any" else "allof", ifcontrol
            )
            for condition in rule.conditions:
                group.check_next_arg("test", self.test(condition, group))
            ifcontrol.check_next_arg("test", group)
        else:
            ifcontrol.check_next_arg("test", commands.get_command_instance("true", ifcontrol))
        # mark read before filing, so the filed copy carries the flag too
        ordered = sorted(sieve_actions, key=lambda a: a["type"] != "mark_read")
        for action in ordered:
            for cmd in self.action(action, ifcontrol):
                ifcontrol.addchild(cmd)
        if stop:
            ifcontrol.addchild(commands.get_command_instance("stop", ifcontrol))
        return ifcontrol


def compile_script(rules) -> str | None:
    """The Sieve script for a mailbox's rules (in order), or None when none needs the server."""
    filters = FiltersSet(SCRIPT_DESCRIPTION)
    builder = _Builder(filters)
    for rule in rules:
        content = builder.rule(rule)
        if content is not None:
            name = " ".join(f"rule {rule.pk}: {rule.name}".split())
            filters.filters.append({"name": name, "content": content, "enabled": True})
    if not filters.filters:
        return None
    out = io.StringIO()
    filters.tosieve(out)
    return out.getvalue()


# -- the outbox -----------------------------------------------------------------------------


def queue_push(mailboxes) -> int:
    """Inside the caller's transaction: recompile and replace the script of each mailbox."""
    from mailherd.rules.models import MailboxScript

    count = 0
    for mailbox in mailboxes:
        MailboxScript.objects.update_or_create(
            mailbox=mailbox, defaults={"status": MailboxScript.Status.PENDING}
        )
        enqueue(
            kind=OP_PUSH,
            object_key=mailbox_key(mailbox.address),
            organization=mailbox.organization,
            domain_name=mailbox.domain.name,
            payload={"address": mailbox.address},
        )
        count += 1
    return count


def apply_push(op, client, server) -> None:
    from mailherd.rules.selectors import rules_for_mailbox

    if client is None:
        return
    address = op.payload["address"]
    mailbox = Mailbox.objects.select_related("domain").filter(address=address).first()
    if mailbox is None:
        return  # deleted since: Mailcow dropped its filters with it
    script = compile_script(rules_for_mailbox(mailbox))
    old = [f for f in client.list_sieve_filters(address) if f.description == SCRIPT_DESCRIPTION]
    if script is not None:
        try:
            client.add_sieve_filter(
                address,
                script=script,
                description=SCRIPT_DESCRIPTION,
                filter_type=FILTER_TYPE,
                active=True,
            )
        except MailcowInvalidInput as exc:
            if exc.msg_key != "sieve_error":
                raise
            detail = str(exc.msg_args[0]) if exc.msg_args else str(exc)
            _record(mailbox, script, error=detail)
            return  # the previous script stays in place
    for item in old:  # after the new one is in: never a moment without rules
        client.delete_sieve_filter(item.id)
    _record(mailbox, script or "", error="")


def _record(mailbox, script: str, *, error: str) -> None:
    from mailherd.rules.models import MailboxScript, Rule

    with transaction.atomic():
        status = MailboxScript.Status.ERROR if error else MailboxScript.Status.ACTIVE
        MailboxScript.objects.update_or_create(
            mailbox=mailbox,
            defaults={
                "script": script,
                "status": status,
                "error": error[:2000],
                "pushed_at": timezone.now(),
            },
        )
        own = Rule.objects.filter(mailbox=mailbox)
        domain_rules = Rule.objects.filter(domain_id=mailbox.domain_id)
        if error:
            message = f"The mail server refused the rules of {mailbox.address}: {error}"
            (own | domain_rules).update(status=Rule.Status.ERROR, error=message[:2000])
            return
        own.update(status=Rule.Status.ACTIVE, error="")
        failing = MailboxScript.objects.filter(
            mailbox__domain_id=mailbox.domain_id, status=MailboxScript.Status.ERROR
        ).exists()
        pending = MailboxScript.objects.filter(
            mailbox__domain_id=mailbox.domain_id, status=MailboxScript.Status.PENDING
        ).exists()
        if not failing and not pending:
            domain_rules.update(status=Rule.Status.ACTIVE, error="")
