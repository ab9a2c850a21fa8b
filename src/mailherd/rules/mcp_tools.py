"""MCP tools for mail rules, tasks and notes (registered by the rules app): the same services."""

from typing import Any, Literal

from pydantic import Field

from mailherd.core.errors import NotFound
from mailherd.mcp.tools import Args, Context, tool
from mailherd.rules import selectors, services
from mailherd.rules.api import item_out, rule_out, task_out


def _plain(data: dict) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


class RuleId(Args):
    id: int = Field(..., description="The rule's id")


class RuleCreate(Args):
    mailbox: str | None = Field(None, description="One mailbox's address, or give domain")
    domain: str | None = Field(None, description="A domain: the rule acts on every mailbox of it")
    name: str = Field(..., description="A name for the rule")
    match: Literal["all", "any"] = Field("all", description="All or any of the conditions")
    conditions: list[dict[str, Any]] = Field(
        default_factory=list,
        description='[{"field": "from"|"to"|"subject"|"header:<Name>"|"body"|"attachment"|"size", '
        '"op": "is"|"contains"|"starts_with"|"regex"|"above", "value": ...}]; empty: every message',
    )
    actions: list[dict[str, Any]] = Field(
        ...,
        description='[{"type": "forward", "to": [...], "keep_copy": true}, {"type": "fileinto", '
        '"folder": "..."}, {"type": "mark_read"}, {"type": "discard"}, {"type": "task"}, '
        '{"type": "note"}, {"type": "webhook", "url": "https://..."}]',
    )
    priority: int = Field(100, description="Lower runs first")
    stop: bool = Field(False, description="Stop processing further rules when this one matches")
    enabled: bool = True


class RuleUpdate(Args):
    id: int = Field(..., description="The rule's id")
    name: str | None = None
    match: Literal["all", "any"] | None = None
    conditions: list[dict[str, Any]] | None = None
    actions: list[dict[str, Any]] | None = None
    priority: int | None = None
    stop: bool | None = None
    enabled: bool | None = None


class RuleTest(Args):
    mailbox: str = Field(..., description="Whose last 50 messages to test against")
    match: Literal["all", "any"] = "all"
    conditions: list[dict[str, Any]] = Field(default_factory=list, description="As in create_rule")


class TaskListing(Args):
    status: Literal["open", "done"] | None = Field("open", description="open (default) or done")
    search: str = Field("", description="Words in the title, text or sender")
    mailbox: str | None = Field(None, description="Only this mailbox's tasks")
    assignee: str | None = Field(None, description='A member\'s email, or "none"')
    limit: int = Field(50, ge=1, le=500)


class ItemId(Args):
    id: int = Field(..., description="The id")


class TaskUpdate(Args):
    id: int = Field(..., description="The task's id")
    status: Literal["open", "done"] | None = None
    assignee: str | None = Field(None, description="A member's email; empty string for nobody")
    due_date: str | None = Field(None, description="YYYY-MM-DD")


class NoteListing(Args):
    search: str = Field("", description="Words in the title, text or sender")
    mailbox: str | None = None
    limit: int = Field(50, ge=1, le=500)


RULES = {"feature": "mail_rules", "scope": "rules"}


@tool("list_rules", "The mail rules, in the order they run.", read_only=True, **RULES)
def list_rules(ctx: Context, args: Args) -> dict:
    rows = selectors.rule_list(organization=ctx.organization)
    return {"rules": [_plain(rule_out(r)) for r in rows]}


@tool(
    "get_rule",
    "One mail rule with its status (pending, active, error).",
    RuleId,
    read_only=True,
    **RULES,
)
def get_rule(ctx: Context, args: RuleId) -> dict:
    rule = selectors.rule_get(organization=ctx.organization, rule_id=args.id)
    if rule is None:
        raise NotFound(f"No rule {args.id} in this organization.")
    return _plain(rule_out(rule))


@tool("create_rule", "Create a mail rule on a mailbox or a whole domain: conditions on sender, "
      "recipient, subject, headers, body, attachments or size; actions forward, fileinto, "
      "mark_read, discard, task, note, webhook.", RuleCreate, **RULES)  # fmt: skip
def create_rule(ctx: Context, args: RuleCreate) -> dict:
    rule = services.rule_create(actor=ctx.actor, organization=ctx.organization, **args.model_dump())
    return {**_plain(rule_out(rule)), "webhook_secret": rule.webhook_secret or None}


@tool("update_rule", "Change a mail rule (only the fields given).", RuleUpdate, **RULES)
def update_rule(ctx: Context, args: RuleUpdate) -> dict:
    given = args.model_dump(exclude_none=True)
    rule_id = given.pop("id")
    rule = services.rule_update(
        actor=ctx.actor, organization=ctx.organization, rule_id=rule_id, **given
    )
    return _plain(rule_out(rule))


@tool("delete_rule", "Delete a mail rule; it stops at once (its tasks and notes stay).", RuleId,
      destructive=True, **RULES)  # fmt: skip
def delete_rule(ctx: Context, args: RuleId) -> dict:
    services.rule_delete(actor=ctx.actor, organization=ctx.organization, rule_id=args.id)
    return {"deleted": args.id}


@tool("test_rule", "Which of a mailbox's last 50 messages the conditions match (changes nothing).",
      RuleTest, read_only=True, **RULES)  # fmt: skip
def test_rule(ctx: Context, args: RuleTest) -> dict:
    result = services.rule_test(organization=ctx.organization, mailbox=args.mailbox,
                                match=args.match, conditions=args.conditions)  # fmt: skip
    result["messages"] = [_plain(m) for m in result["messages"]]
    return result


TASKS = {"feature": "mail_rules", "scope": "tasks"}


@tool("list_tasks", "Tasks that mail rules made from incoming mail, newest first (open ones by "
      "default): title, sender, due date, assignee.", TaskListing, read_only=True, **TASKS)  # fmt: skip
def list_tasks(ctx: Context, args: TaskListing) -> dict:
    rows = selectors.task_list(organization=ctx.organization, status=args.status or "",
                               q=args.search, mailbox=args.mailbox or "",
                               assignee=args.assignee or "").prefetch_related("attachments")  # fmt: skip
    total = rows.count()
    items = [_plain({k: v for k, v in task_out(t).items() if k not in ("html", "text")})
             for t in rows[: args.limit]]  # fmt: skip
    return {"count": total, "tasks": items}


@tool(
    "get_task", "One task with the message's text and attachments.", ItemId, read_only=True, **TASKS
)
def get_task(ctx: Context, args: ItemId) -> dict:
    task = selectors.task_get(organization=ctx.organization, task_id=args.id)
    if task is None:
        raise NotFound(f"No task {args.id} in this organization.")
    return _plain({k: v for k, v in task_out(task).items() if k != "html"})


@tool("complete_task", "Mark a task done.", ItemId, idempotent=True, **TASKS)
def complete_task(ctx: Context, args: ItemId) -> dict:
    services.task_complete(actor=ctx.actor, organization=ctx.organization, task_id=args.id)
    return get_task(ctx, args)


@tool(
    "update_task",
    "Open a task again, assign it to a member or set its due date.",
    TaskUpdate,
    **TASKS,
)
def update_task(ctx: Context, args: TaskUpdate) -> dict:
    given = args.model_dump(exclude_none=True)
    task_id = given.pop("id")
    services.task_update(actor=ctx.actor, organization=ctx.organization, task_id=task_id, **given)
    return get_task(ctx, ItemId(id=task_id))


NOTES = {"feature": "mail_rules", "scope": "notes"}


@tool("list_notes", "Notes that mail rules kept from incoming mail, newest first.", NoteListing,
      read_only=True, **NOTES)  # fmt: skip
def list_notes(ctx: Context, args: NoteListing) -> dict:
    rows = selectors.note_list(organization=ctx.organization, q=args.search,
                               mailbox=args.mailbox or "").prefetch_related("attachments")  # fmt: skip
    total = rows.count()
    items = [
        _plain({k: v for k, v in item_out(n).items() if k != "html"}) for n in rows[: args.limit]
    ]
    return {"count": total, "notes": items}


@tool("get_note", "One note with the message's text.", ItemId, read_only=True, **NOTES)
def get_note(ctx: Context, args: ItemId) -> dict:
    note = selectors.note_get(organization=ctx.organization, note_id=args.id)
    if note is None:
        raise NotFound(f"No note {args.id} in this organization.")
    return _plain({k: v for k, v in item_out(note).items() if k != "html"})
