"""REST API v1 for mail rules, tasks and notes: thin, over the services and selectors."""

from datetime import date, datetime
from typing import Any, Literal

from ninja import Field, Query, Router, Schema, Status

from mailherd.api.errors import not_found
from mailherd.api.pagination import CURSOR_DESCRIPTION, LIMIT_DESCRIPTION, cursor_page, page_schema
from mailherd.rules import selectors, services

router = Router(tags=["rules"])


class ErrorOut(Schema):
    code: str
    message: str


class ConditionIn(Schema):
    field: str = Field(
        ...,
        description='"from", "to", "subject", "header:<Name>", "body", "attachment" or "size".',
        examples=["subject"],
    )
    op: Literal["is", "contains", "starts_with", "regex", "above"] | None = Field(
        None, description="How to compare; `above` for size; none for attachment."
    )
    value: str | int | bool | None = Field(
        None,
        description="The text, a size (bytes or like 100K) or for attachment true/false.",
        examples=["invoice"],
    )


class ActionIn(Schema):
    type: Literal["forward", "fileinto", "mark_read", "discard", "task", "note", "webhook"]
    to: list[str] | None = Field(None, description="forward: the addresses.")
    keep_copy: bool | None = Field(None, description="forward: keep a copy too (default true).")
    folder: str | None = Field(None, description="fileinto: the folder, created if missing.")
    url: str | None = Field(None, description="webhook: the HTTPS URL to POST to.")


def _actions(actions: list[ActionIn]) -> list[dict]:
    return [a.model_dump(exclude_none=True) for a in actions]


def _conditions(conditions: list[ConditionIn]) -> list[dict]:
    return [c.model_dump(exclude_none=True) for c in conditions]


class RuleIn(Schema):
    mailbox: str | None = Field(
        None, description="One mailbox's address…", examples=["ann@acme.com"]
    )
    domain: str | None = Field(None, description="…or a domain: every mailbox of it.")
    name: str = Field(..., max_length=100, examples=["Invoices to accounting"])
    match: Literal["all", "any"] = "all"
    conditions: list[ConditionIn] = Field(default_factory=list)
    actions: list[ActionIn] = Field(..., min_length=1)
    priority: int = Field(100, description="Lower runs first.")
    stop: bool = Field(False, description="Stop processing further rules when this one matches.")
    enabled: bool = True


class RulePatch(Schema):
    name: str | None = Field(None, max_length=100)
    match: Literal["all", "any"] | None = None
    conditions: list[ConditionIn] | None = None
    actions: list[ActionIn] | None = Field(None, min_length=1)
    priority: int | None = None
    stop: bool | None = None
    enabled: bool | None = None


class RuleOut(Schema):
    id: int
    name: str
    mailbox: str | None
    domain: str | None
    match: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    priority: int
    stop: bool
    enabled: bool
    status: Literal["pending", "active", "error"] = Field(
        ..., description="error: the mail server refused the script; see `error`."
    )
    error: str
    created_at: datetime
    updated_at: datetime


class RuleCreatedOut(RuleOut):
    webhook_secret: str | None = Field(
        None, description="Signing secret (whsec_…) of the rule's webhook calls; shown only here."
    )


class RuleTestIn(Schema):
    mailbox: str = Field(..., description="Whose last messages to test against.")
    match: Literal["all", "any"] = "all"
    conditions: list[ConditionIn] = Field(default_factory=list)
    limit: int = Field(50, ge=1, le=50)


class TestedMessageOut(Schema):
    uid: int
    subject: str
    sender: str
    date: datetime | None
    matches: bool


class RuleTestOut(Schema):
    ready: bool = Field(..., description="False while read access is being set up: ask again.")
    checked: int
    matched: int
    messages: list[TestedMessageOut]


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int


class ItemOut(Schema):
    id: int
    title: str
    text: str
    html: str
    sender: str
    sender_display: str
    recipients: list[str]
    mailbox: str | None
    rule: dict[str, Any] | None
    received_at: datetime | None
    webmail_url: str
    attachments: list[AttachmentOut]
    created_at: datetime


class TaskOut(ItemOut):
    status: Literal["open", "done"]
    assignee: str | None
    due_date: date | None
    completed_at: datetime | None


class NoteOut(ItemOut):
    pass


class TaskPatch(Schema):
    status: Literal["open", "done"] | None = None
    assignee: str | None = Field(None, description="A member's email; empty for nobody.")
    due_date: date | None = None
    title: str | None = Field(None, max_length=500)


RulePage = page_schema(RuleOut, "RulePage")
TaskPage = page_schema(TaskOut, "TaskPage")
NotePage = page_schema(NoteOut, "NotePage")


def rule_out(rule) -> dict:
    return {
        "id": rule.pk,
        "name": rule.name,
        "mailbox": rule.mailbox.address if rule.mailbox_id else None,
        "domain": rule.domain.name if rule.domain_id else None,
        "match": rule.match,
        "conditions": rule.conditions,
        "actions": rule.actions,
        "priority": rule.priority,
        "stop": rule.stop,
        "enabled": rule.enabled,
        "status": rule.status,
        "error": rule.error,
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


def item_out(item) -> dict:
    return {
        "id": item.pk,
        "title": item.title,
        "text": item.text,
        "html": item.html,
        "sender": item.sender,
        "sender_display": item.sender_display,
        "recipients": item.recipients,
        "mailbox": item.mailbox.address if item.mailbox_id else None,
        "rule": {"id": item.rule.pk, "name": item.rule.name} if item.rule_id else None,
        "received_at": item.received_at,
        "webmail_url": item.webmail_url,
        "attachments": [
            {"id": a.pk, "filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in item.attachments.all()
        ],
        "created_at": item.created_at,
    }


def task_out(task) -> dict:
    return {
        **item_out(task),
        "status": task.status,
        "assignee": task.assignee.email if task.assignee_id else None,
        "due_date": task.due_date,
        "completed_at": task.completed_at,
    }


def _rule_or_404(request, rule_id: int):
    rule = selectors.rule_get(organization=request.organization, rule_id=rule_id)
    if rule is None:
        raise not_found("rule", rule_id)
    return rule


@router.get("/rules", response={200: RulePage}, summary="List mail rules")
def rules_list(
    request,
    mailbox: str | None = Query(None, description="Only this mailbox's own rules."),
    domain: str | None = Query(None, description="Only this domain's rules."),
    cursor: str | None = Query(None, description=CURSOR_DESCRIPTION),
    limit: int = Query(100, ge=1, le=1000, description=LIMIT_DESCRIPTION),
):
    """Every rule in the order they run (priority, then age)."""
    rows = selectors.rule_list(
        organization=request.organization, mailbox=mailbox or "", domain=domain or ""
    )
    return cursor_page(rows, cursor=cursor, limit=limit, order="id", serialize=rule_out)


@router.post(
    "/rules",
    response={201: RuleCreatedOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Create a mail rule",
)
def rules_create(request, body: RuleIn):
    """A rule on one `mailbox` or on every mailbox of a `domain`. Forward, file into, mark read
    and ignore run on the mail server (a Sieve script: `status` is `pending` until it took it,
    `error` with its message if it refused); task, note and webhook are done as mail arrives.
    Within the plan (`mail_rules`, a maximum number of rules: 409 `plan_limit_exceeded`)."""
    rule = services.rule_create(
        actor=request.actor,
        organization=request.organization,
        mailbox=body.mailbox,
        domain=body.domain,
        name=body.name,
        match=body.match,
        conditions=_conditions(body.conditions),
        actions=_actions(body.actions),
        priority=body.priority,
        stop=body.stop,
        enabled=body.enabled,
    )
    return Status(201, {**rule_out(rule), "webhook_secret": rule.webhook_secret or None})


@router.post(
    "/rules/test",
    response={200: RuleTestOut, 404: ErrorOut, 422: ErrorOut, 503: ErrorOut},
    summary="Test conditions on a mailbox's last messages",
)
def rules_test(request, body: RuleTestIn):
    """Which of the mailbox's last 50 messages (INBOX) the conditions match; nothing changes.
    The first call on a mailbox without rules sets up read access: `ready` is false, ask again
    a few seconds later."""
    return services.rule_test(
        organization=request.organization,
        mailbox=body.mailbox,
        match=body.match,
        conditions=_conditions(body.conditions),
        limit=body.limit,
    )


@router.get("/rules/{rule_id}", response={200: RuleOut, 404: ErrorOut}, summary="Get a mail rule")
def rules_get(request, rule_id: int):
    """The rule with its conditions, actions, priority and `status` (`pending`, `active`, or
    `error` with the mail server's message)."""
    return rule_out(_rule_or_404(request, rule_id))


@router.patch(
    "/rules/{rule_id}",
    response={200: RuleCreatedOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Change a mail rule",
)
def rules_update(request, rule_id: int, body: RulePatch):
    """Change any of name, match, conditions, actions, priority, stop, enabled; the script is
    recompiled (`status` pending again). Adding the first webhook action returns its secret."""
    had_secret = bool(_rule_or_404(request, rule_id).webhook_secret)
    given = body.model_dump(exclude_unset=True)
    if "conditions" in given:
        given["conditions"] = _conditions(body.conditions or [])
    if "actions" in given:
        given["actions"] = _actions(body.actions or [])
    rule = services.rule_update(
        actor=request.actor, organization=request.organization, rule_id=rule_id, **given
    )
    new_secret = rule.webhook_secret if rule.webhook_secret and not had_secret else None
    return {**rule_out(rule), "webhook_secret": new_secret}


@router.delete(
    "/rules/{rule_id}", response={204: None, 404: ErrorOut}, summary="Delete a mail rule"
)
def rules_delete(request, rule_id: int):
    """It stops at once; the tasks and notes it made stay."""
    services.rule_delete(
        actor=request.actor,
        organization=request.organization,
        rule_id=_rule_or_404(request, rule_id).pk,
    )
    return Status(204, None)


@router.post(
    "/rules/{rule_id}/test",
    response={200: RuleTestOut, 404: ErrorOut, 503: ErrorOut},
    summary="Test a saved rule",
)
def rules_test_saved(request, rule_id: int, mailbox: str | None = None):
    """A saved rule against its mailbox's last 50 messages (a domain rule: give `mailbox`)."""
    rule = _rule_or_404(request, rule_id)
    address = rule.mailbox.address if rule.mailbox_id else (mailbox or "")
    if not rule.mailbox_id:
        from mailherd.core.errors import ValidationFailed

        if not address.endswith("@" + rule.domain.name):
            raise ValidationFailed(
                f"Give a mailbox of {rule.domain.name} to test this rule on.", field="mailbox"
            )
    return services.rule_test(
        organization=request.organization,
        mailbox=address,
        match=rule.match,
        conditions=rule.conditions,
    )


# -- tasks and notes ------------------------------------------------------------------------


@router.get("/tasks", response={200: TaskPage}, tags=["tasks"], summary="List tasks")
def tasks_list(
    request,
    status: Literal["open", "done"] | None = None,
    q: str | None = Query(None, max_length=200, description="Words in title, text or sender."),
    mailbox: str | None = None,
    rule: int | None = None,
    assignee: str | None = Query(None, description='A member\'s email, or "none".'),
    due: Literal["overdue", "dated"] | None = None,
    cursor: str | None = Query(None, description=CURSOR_DESCRIPTION),
    limit: int = Query(100, ge=1, le=1000, description=LIMIT_DESCRIPTION),
):
    """Tasks made by rules from incoming mail, newest first."""
    rows = selectors.task_list(
        organization=request.organization,
        status=status or "",
        q=q or "",
        mailbox=mailbox or "",
        rule_id=rule,
        assignee=assignee or "",
        due=due or "",
    ).prefetch_related("attachments")
    return cursor_page(rows, cursor=cursor, limit=limit, order="-id", serialize=task_out)


def _task_or_404(request, task_id: int):
    task = selectors.task_get(organization=request.organization, task_id=task_id)
    if task is None:
        raise not_found("task", task_id)
    return task


@router.get("/tasks/{task_id}", response={200: TaskOut, 404: ErrorOut}, tags=["tasks"], summary="Get a task")
def tasks_get(request, task_id: int):
    """The task made from a message by a rule: title, text, sender, date, attachments, status,
    assignee, due date and a link to the message in webmail."""
    return task_out(_task_or_404(request, task_id))


@router.patch(
    "/tasks/{task_id}", response={200: TaskOut, 404: ErrorOut, 422: ErrorOut}, tags=["tasks"], summary="Change a task")
def tasks_update(request, task_id: int, body: TaskPatch):
    """Mark done or open again, assign to a member, set the due date or the title."""
    _task_or_404(request, task_id)
    task = services.task_update(
        actor=request.actor,
        organization=request.organization,
        task_id=task_id,
        **body.model_dump(exclude_unset=True),
    )
    return task_out(selectors.task_get(organization=request.organization, task_id=task.pk))


@router.post("/tasks/{task_id}/complete", response={200: TaskOut, 404: ErrorOut}, tags=["tasks"], summary="Complete a task")
def tasks_complete(request, task_id: int):
    """Marks the task done (completing it again changes nothing)."""
    _task_or_404(request, task_id)
    services.task_complete(actor=request.actor, organization=request.organization, task_id=task_id)
    return task_out(_task_or_404(request, task_id))


@router.delete("/tasks/{task_id}", response={204: None, 404: ErrorOut}, tags=["tasks"], summary="Delete a task")
def tasks_delete(request, task_id: int):
    """The task and its kept attachments are deleted; the message stays in the mailbox."""
    _task_or_404(request, task_id)
    services.task_delete(actor=request.actor, organization=request.organization, task_id=task_id)
    return Status(204, None)


@router.get("/notes", response={200: NotePage}, tags=["notes"], summary="List notes")
def notes_list(
    request,
    q: str | None = Query(None, max_length=200, description="Words in title, text or sender."),
    mailbox: str | None = None,
    rule: int | None = None,
    cursor: str | None = Query(None, description=CURSOR_DESCRIPTION),
    limit: int = Query(100, ge=1, le=1000, description=LIMIT_DESCRIPTION),
):
    """Notes made by rules from incoming mail, newest first."""
    rows = selectors.note_list(
        organization=request.organization, q=q or "", mailbox=mailbox or "", rule_id=rule
    ).prefetch_related("attachments")
    return cursor_page(rows, cursor=cursor, limit=limit, order="-id", serialize=item_out)


def _note_or_404(request, note_id: int):
    note = selectors.note_get(organization=request.organization, note_id=note_id)
    if note is None:
        raise not_found("note", note_id)
    return note


@router.get("/notes/{note_id}", response={200: NoteOut, 404: ErrorOut}, tags=["notes"], summary="Get a note")
def notes_get(request, note_id: int):
    """The note made from a message by a rule: title, text, sender, date and attachments."""
    return item_out(_note_or_404(request, note_id))


@router.delete("/notes/{note_id}", response={204: None, 404: ErrorOut}, tags=["notes"], summary="Delete a note")
def notes_delete(request, note_id: int):
    """The note and its kept attachments are deleted; the message stays in the mailbox."""
    _note_or_404(request, note_id)
    services.note_delete(actor=request.actor, organization=request.organization, note_id=note_id)
    return Status(204, None)
