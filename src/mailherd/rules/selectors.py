"""Reads for rules, tasks and notes; every customer-facing one is scoped to an organization."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from mailherd.rules.conditions import WATCHER_ACTIONS
from mailherd.rules.models import Note, Rule, Task

TEST_ACCESS_HOURS = 24


def rule_list(*, organization, mailbox: str = "", domain: str = ""):
    rows = Rule.objects.filter(organization=organization).select_related("mailbox", "domain")
    if mailbox:
        rows = rows.filter(mailbox__address=mailbox.strip().lower())
    if domain:
        rows = rows.filter(domain__name=domain.strip().lower())
    return rows.order_by("priority", "id")


def rule_get(*, organization, rule_id) -> Rule | None:
    try:
        rule_id = int(rule_id)
    except (TypeError, ValueError):
        return None
    return (
        Rule.objects.select_related("mailbox", "domain")
        .filter(organization=organization, pk=rule_id)
        .first()
    )


def rules_for_mailbox(mailbox, *, enabled_only: bool = True) -> list[Rule]:
    """The rules that act on a mailbox's mail, in the order they run: its own and its domain's."""
    rows = Rule.objects.filter(Q(mailbox_id=mailbox.pk) | Q(domain_id=mailbox.domain_id))
    if enabled_only:
        rows = rows.filter(enabled=True)
    return list(rows.order_by("priority", "id"))


def rule_count(*, organization) -> int:
    return Rule.objects.filter(organization=organization).count()


def watched_mailbox_ids() -> set[int]:
    """Mailboxes the watcher reads: those with a task, note or webhook rule (own or domain's),
    and those whose rules someone is testing (read access for a day)."""
    from mailherd.hosting.models import Mailbox
    from mailherd.rules.models import TestAccess

    mailbox_ids: set[int] = set()
    domain_ids: set[int] = set()
    for mailbox_id, domain_id, actions in Rule.objects.filter(enabled=True).values_list(
        "mailbox_id", "domain_id", "actions"
    ):
        if any(a.get("type") in WATCHER_ACTIONS for a in actions or []):
            if mailbox_id:
                mailbox_ids.add(mailbox_id)
            else:
                domain_ids.add(domain_id)
    if domain_ids:
        mailbox_ids |= set(
            Mailbox.objects.filter(domain_id__in=domain_ids).values_list("pk", flat=True)
        )
    since = timezone.now() - timedelta(hours=TEST_ACCESS_HOURS)
    mailbox_ids |= set(
        TestAccess.objects.filter(requested_at__gte=since).values_list("mailbox_id", flat=True)
    )
    return mailbox_ids


def mailbox_has_watcher_rules(mailbox) -> bool:
    return any(
        a.get("type") in WATCHER_ACTIONS
        for rule in rules_for_mailbox(mailbox)
        for a in rule.actions
    )


def _items(model, *, organization, q: str = "", mailbox: str = "", rule_id=None):
    rows = model.objects.filter(organization=organization).select_related("mailbox", "rule")
    if q:
        q = q.strip()
        rows = rows.filter(
            Q(title__icontains=q)
            | Q(text__icontains=q)
            | Q(sender__icontains=q)
            | Q(sender_display__icontains=q)
        )
    if mailbox:
        rows = rows.filter(mailbox__address=mailbox.strip().lower())
    if rule_id:
        rows = rows.filter(rule_id=rule_id)
    return rows


def task_list(
    *,
    organization,
    status: str = "",
    q: str = "",
    mailbox: str = "",
    rule_id=None,
    assignee: str = "",
    due: str = "",
):
    rows = _items(Task, organization=organization, q=q, mailbox=mailbox, rule_id=rule_id)
    if status:
        rows = rows.filter(status=status)
    if assignee == "none":
        rows = rows.filter(assignee__isnull=True)
    elif assignee:
        rows = rows.filter(assignee__email__iexact=assignee.strip())
    today = timezone.localdate()
    if due == "overdue":
        rows = rows.filter(due_date__lt=today, status=Task.Status.OPEN)
    elif due == "dated":
        rows = rows.filter(due_date__isnull=False)
    return rows.select_related("assignee")


def task_get(*, organization, task_id) -> Task | None:
    try:
        task_id = int(task_id)
    except (TypeError, ValueError):
        return None
    return (
        Task.objects.select_related("mailbox", "rule", "assignee")
        .filter(organization=organization, pk=task_id)
        .first()
    )


def note_list(*, organization, q: str = "", mailbox: str = "", rule_id=None):
    return _items(Note, organization=organization, q=q, mailbox=mailbox, rule_id=rule_id)


def note_get(*, organization, note_id) -> Note | None:
    try:
        note_id = int(note_id)
    except (TypeError, ValueError):
        return None
    return (
        Note.objects.select_related("mailbox", "rule")
        .filter(organization=organization, pk=note_id)
        .first()
    )


def attachment_get(*, organization, attachment_id):
    from mailherd.rules.models import Attachment

    return (
        Attachment.objects.filter(pk=attachment_id)
        .filter(Q(task__organization=organization) | Q(note__organization=organization))
        .first()
    )
