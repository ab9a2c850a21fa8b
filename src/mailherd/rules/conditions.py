"""What a rule says, checked and normalised, and matched against a message in Python.

The same rule is compiled to Sieve for Mailcow (sieve.py) and matched here for the watcher's
actions and for "test a rule". Both read conditions the same way:

- `from`: the sender's address; `to`: the To and Cc addresses and the envelope recipient
  (where an alias delivered it); `subject`; `header:<Name>`; `body`: the message's text.
  Ops `is`, `contains`, `starts_with`, `regex`; compared without regard to case.
- `attachment` (value true or false): has an attachment or not.
- `size` with op `above`: the message is larger than the value (bytes, or "100K", "2M").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mailherd.core.errors import ValidationFailed

TEXT_FIELDS = ("from", "to", "subject", "body")
TEXT_OPS = ("is", "contains", "starts_with", "regex")
ACTION_TYPES = ("forward", "fileinto", "mark_read", "discard", "task", "note", "webhook")
SIEVE_ACTIONS = ("forward", "fileinto", "mark_read", "discard")
WATCHER_ACTIONS = ("task", "note", "webhook")
MAX_CONDITIONS = 20
MAX_ACTIONS = 10
MAX_FORWARD_TARGETS = 10
MAX_VALUE = 500
MAX_REGEX = 200
HEADER_NAME = re.compile(r"^[!-9;-~]{1,76}$")  # RFC 5322 field name: printable, no colon
ADDRESS = re.compile(r"^[^@\s\"<>,;]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,}$")
SIZE = re.compile(r"^\s*(\d+)\s*([KMG]?)B?\s*$", re.IGNORECASE)
UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}

FIELD_LABELS = {
    "from": "From",
    "to": "To",
    "subject": "Subject",
    "body": "Body",
    "attachment": "Attachment",
    "size": "Size",
}
OP_LABELS = {
    "is": "is",
    "contains": "contains",
    "starts_with": "starts with",
    "regex": "matches",
    "above": "is above",
}


def _fail(message: str, field: str) -> ValidationFailed:
    return ValidationFailed(message, field=field)


def parse_size(value: Any, field: str = "conditions") -> int:
    if isinstance(value, bool):
        raise _fail("Give a size in bytes, or like 100K or 5M.", field)
    if isinstance(value, int):
        size = value
    else:
        match = SIZE.match(str(value or ""))
        if not match:
            raise _fail("Give a size in bytes, or like 100K or 5M.", field)
        size = int(match.group(1)) * UNITS[match.group(2).upper()]
    if size < 0 or size > 2 * 1024**3:
        raise _fail("A size must be between 0 and 2G.", field)
    return size


def clean_conditions(conditions: Any) -> list[dict]:
    if conditions is None:
        return []
    if not isinstance(conditions, list):
        raise _fail("Conditions must be a list.", "conditions")
    if len(conditions) > MAX_CONDITIONS:
        raise _fail(f"A rule can have at most {MAX_CONDITIONS} conditions.", "conditions")
    cleaned = []
    for index, condition in enumerate(conditions, start=1):
        where = f"Condition {index}"
        if not isinstance(condition, dict):
            raise _fail(f"{where} must be an object with field, op and value.", "conditions")
        field = str(condition.get("field") or "").strip()
        op = str(condition.get("op") or "").strip()
        value = condition.get("value")
        if field.lower().startswith("header:"):
            name = field.split(":", 1)[1].strip()
            if not HEADER_NAME.match(name):
                raise _fail(f"{where}: '{name}' is not a header name.", "conditions")
            field = f"header:{name}"
        else:
            field = field.lower()
        if field == "attachment":
            if value is None:
                value = True
            if not isinstance(value, bool):
                raise _fail(f"{where}: attachment takes true or false.", "conditions")
            cleaned.append({"field": "attachment", "op": "is", "value": value})
            continue
        if field == "size":
            if op not in ("above", ""):
                raise _fail(f"{where}: size takes the op 'above'.", "conditions")
            cleaned.append({"field": "size", "op": "above", "value": parse_size(value)})
            continue
        if field not in TEXT_FIELDS and not field.startswith("header:"):
            raise _fail(
                f"{where}: '{field}' is not a field; use from, to, subject, header:<Name>, body, "
                "attachment or size.",
                "conditions",
            )
        op = op or "contains"
        if op not in TEXT_OPS:
            raise _fail(
                f"{where}: '{op}' is not an op; use is, contains, starts_with or regex.",
                "conditions",
            )
        if not isinstance(value, str) or not value.strip():
            raise _fail(f"{where}: give the text to look for.", "conditions")
        if len(value) > MAX_VALUE or any(ord(c) < 32 for c in value):
            raise _fail(
                f"{where}: the text must be one line of at most {MAX_VALUE} characters.",
                "conditions",
            )
        if op == "regex":
            if len(value) > MAX_REGEX:
                raise _fail(
                    f"{where}: a regular expression can have at most {MAX_REGEX} characters.",
                    "conditions",
                )
            try:
                re.compile(value)
            except re.error as exc:
                raise _fail(f"{where}: the regular expression is not valid ({exc}).", "conditions")
        cleaned.append({"field": field, "op": op, "value": value})
    return cleaned


def clean_actions(actions: Any, *, clean_url=None) -> list[dict]:
    """Check the actions; `clean_url` checks a webhook URL (netguard)."""
    if not isinstance(actions, list) or not actions:
        raise _fail("Give the rule at least one action.", "actions")
    if len(actions) > MAX_ACTIONS:
        raise _fail(f"A rule can have at most {MAX_ACTIONS} actions.", "actions")
    cleaned: list[dict] = []
    for index, action in enumerate(actions, start=1):
        where = f"Action {index}"
        if not isinstance(action, dict):
            raise _fail(f"{where} must be an object with a type.", "actions")
        kind = str(action.get("type") or "").strip().lower()
        if kind not in ACTION_TYPES:
            raise _fail(
                f"{where}: '{kind}' is not an action; use forward, fileinto, mark_read, discard, "
                "task, note or webhook.",
                "actions",
            )
        if kind == "forward":
            targets = action.get("to")
            if isinstance(targets, str):
                targets = [targets]
            if not isinstance(targets, list) or not targets:
                raise _fail(f"{where}: give the addresses to forward to.", "actions")
            if len(targets) > MAX_FORWARD_TARGETS:
                raise _fail(
                    f"{where}: forward to at most {MAX_FORWARD_TARGETS} addresses.", "actions"
                )
            addresses = []
            for target in targets:
                address = str(target or "").strip().lower()
                if not ADDRESS.match(address):
                    raise _fail(f"{where}: '{target}' is not an email address.", "actions")
                if address not in addresses:
                    addresses.append(address)
            keep = action.get("keep_copy", True)
            if not isinstance(keep, bool):
                raise _fail(f"{where}: keep_copy is true or false.", "actions")
            cleaned.append({"type": "forward", "to": addresses, "keep_copy": keep})
        elif kind == "fileinto":
            folder = str(action.get("folder") or "").strip()
            if not folder or len(folder) > 200 or any(ord(c) < 32 for c in folder):
                raise _fail(f"{where}: give a folder name of at most 200 characters.", "actions")
            cleaned.append({"type": "fileinto", "folder": folder})
        elif kind == "webhook":
            url = str(action.get("url") or "").strip()
            if clean_url is not None:
                url = clean_url(url)
            cleaned.append({"type": "webhook", "url": url})
        else:
            cleaned.append({"type": kind})
    kinds = [a["type"] for a in cleaned]
    if "discard" in kinds and len(kinds) > 1:
        raise _fail(
            "A rule that ignores mail cannot do anything else with it; remove the other actions "
            "or the ignore action.",
            "actions",
        )
    if kinds.count("task") > 1 or kinds.count("note") > 1 or kinds.count("mark_read") > 1:
        raise _fail("Each of task, note and mark read can be in a rule once.", "actions")
    if any(k in WATCHER_ACTIONS for k in kinds) and any(
        a["type"] == "forward" and not a["keep_copy"] for a in cleaned
    ):
        raise _fail(
            "To create a task, a note or call a webhook the message has to stay in the mailbox: "
            "keep a copy when forwarding.",
            "actions",
        )
    return cleaned


def describe_condition(condition: dict) -> str:
    field = condition["field"]
    if field == "attachment":
        return "has an attachment" if condition["value"] else "has no attachment"
    if field == "size":
        return f"size is above {human_size(condition['value'])}"
    label = FIELD_LABELS.get(field) or field.split(":", 1)[1]
    return f"{label} {OP_LABELS[condition['op']]} “{condition['value']}”"


def describe_action(action: dict) -> str:
    kind = action["type"]
    if kind == "forward":
        copy = "" if action.get("keep_copy", True) else " (no copy kept)"
        return f"Forward to {', '.join(action['to'])}{copy}"
    if kind == "fileinto":
        return f"File into {action['folder']}"
    if kind == "webhook":
        return f"Call {action['url']}"
    return {
        "mark_read": "Mark as read",
        "discard": "Ignore (discard silently)",
        "task": "Create a task",
        "note": "Create a note",
    }[kind]


def human_size(size: int) -> str:
    for unit, factor in (("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size} bytes"


# -- matching --------------------------------------------------------------------------------


@dataclass
class CompiledCondition:
    field: str
    op: str
    value: Any
    folded: str = ""
    pattern: re.Pattern | None = None


def compile_conditions(conditions: list[dict]) -> list[CompiledCondition]:
    compiled = []
    for c in conditions:
        item = CompiledCondition(field=c["field"], op=c["op"], value=c["value"])
        if isinstance(c["value"], str):
            item.folded = c["value"].casefold()
            if c["op"] == "regex":
                item.pattern = re.compile(c["value"], re.IGNORECASE)
        compiled.append(item)
    return compiled


ADDRESS_HEADERS = {
    "from": ("from",),
    "to": ("to", "cc", "delivered-to", "x-original-to", "envelope-to"),
}


def _addresses(message, names: tuple[str, ...]) -> list[str]:
    """Addresses of the named headers, read from the raw header text (the address part needs no
    decoding; skipping the header registry keeps 100 rules a message cheap)."""
    from email.utils import getaddresses

    raw = [str(v) for k, v in message.parsed.raw_items() if k.lower() in names]
    return [addr.lower() for _, addr in getaddresses(raw) if addr]


def _compute(message, field: str) -> list[str]:
    if field in ADDRESS_HEADERS:
        found = _addresses(message, ADDRESS_HEADERS[field])
        return found[:1] if field == "from" else found
    if field == "subject":
        return [message.subject]
    if field == "body":
        return [message.text]
    name = field.split(":", 1)[1]
    try:
        values = message.parsed.get_all(name) or []
    except Exception:  # noqa: BLE001 - a malformed header reads as nothing
        values = []
    return [str(v) for v in values]


def _values(message, field: str) -> list[tuple[str, str]]:
    """(text, case-folded text) of a field, worked out once per message for all its rules."""
    cache = message.__dict__.setdefault("_rule_values", {})
    found = cache.get(field)
    if found is None:
        found = cache[field] = [(v, v.casefold()) for v in _compute(message, field)]
    return found


def condition_matches(condition: CompiledCondition, message) -> bool:
    if condition.field == "attachment":
        return bool(message.attachments) == bool(condition.value)
    if condition.field == "size":
        return message.size > condition.value
    for value, folded in _values(message, condition.field):
        if condition.op == "regex":
            if condition.pattern.search(value):
                return True
        elif condition.op == "is":
            if folded.strip() == condition.folded:
                return True
        elif condition.op == "contains":
            if condition.folded in folded:
                return True
        elif condition.op == "starts_with" and folded.startswith(condition.folded):
            return True
    return False


def conditions_match(match: str, conditions: list[CompiledCondition], message) -> bool:
    if not conditions:
        return True  # a rule without conditions acts on every message
    if match == "any":
        return any(condition_matches(c, message) for c in conditions)
    return all(condition_matches(c, message) for c in conditions)
