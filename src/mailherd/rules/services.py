"""Writes for mail rules, tasks and notes (portal, API, MCP and the watcher all call these).

A rule change recompiles the Sieve script of every mailbox it acts on (sieve.py, through the
outbox, in the same transaction) and tells the IMAP watcher which mailboxes to read after the
commit. Plan checks (`mail_rules`, `max_mail_rules`) come before anything is written.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import MailherdError, NotFound, PlanLimitExceeded, ValidationFailed
from mailherd.hosting.models import Domain, Mailbox
from mailherd.plans.models import Feature
from mailherd.rules import conditions as cond
from mailherd.rules import selectors, sieve
from mailherd.rules.models import Attachment, Note, Rule, Task, TestAccess

logger = logging.getLogger(__name__)

MAX_NAME = 100
WEBHOOK_EVENT = "rule.matched"


class FeatureNotInPlan(MailherdError):
    code = "feature_not_in_plan"
    http_status = 403


def _check_feature(organization) -> None:
    if not organization.plan.has_feature(Feature.MAIL_RULES):
        raise FeatureNotInPlan(
            f"Mail rules are not part of the {organization.plan.name} plan. Choose a plan with "
            "mail rules to use them.",
            feature=Feature.MAIL_RULES.value,
        )


def _lock(organization):
    from mailherd.hosting.services.limits import ensure_writable
    from mailherd.tenancy.locks import organization_lock

    organization = organization_lock(organization_id=organization.pk)
    ensure_writable(organization)
    return organization


def _clean_name(name) -> str:
    name = " ".join(str(name or "").split())
    if not name:
        raise ValidationFailed("Give the rule a name.", field="name")
    if len(name) > MAX_NAME:
        raise ValidationFailed(f"A name can have at most {MAX_NAME} characters.", field="name")
    return name


def _clean_match(match) -> str:
    match = str(match or "all").strip().lower()
    if match not in ("all", "any"):
        raise ValidationFailed("match is 'all' or 'any'.", field="match")
    return match


def _clean_priority(priority) -> int:
    if priority is None:
        return 100
    if isinstance(priority, bool):
        raise ValidationFailed("priority is a whole number; lower runs first.", field="priority")
    try:
        value = int(priority)
    except (TypeError, ValueError):
        raise ValidationFailed("priority is a whole number; lower runs first.", field="priority")
    if not -100000 <= value <= 100000:
        raise ValidationFailed("priority must be between -100000 and 100000.", field="priority")
    return value


def _clean_url(url: str) -> str:
    from mailherd.core.netguard import validate_url

    return validate_url(url, field="actions")


def _check_forwarding(organization, actions: list[dict]) -> None:
    targets = [t for a in actions if a["type"] == "forward" for t in a["to"]]
    if not targets or organization.plan.has_feature(Feature.EXTERNAL_FORWARDING):
        return
    own = set(Domain.objects.filter(organization=organization).values_list("name", flat=True))
    outside = [t for t in targets if t.rsplit("@", 1)[1] not in own]
    if outside:
        raise FeatureNotInPlan(
            f"Forwarding to addresses outside your domains ({', '.join(outside)}) is not part "
            f"of the {organization.plan.name} plan.",
            feature=Feature.EXTERNAL_FORWARDING.value,
        )


def _scope(organization, *, mailbox: str | None, domain: str | None):
    if bool(mailbox) == bool(domain):
        raise ValidationFailed(
            "Give either a mailbox (one address) or a domain (every mailbox of it).",
            field="mailbox",
        )
    if mailbox:
        address = str(mailbox).strip().lower()
        found = Mailbox.objects.select_related("domain").filter(
            organization=organization, address=address
        )
        row = found.first()
        if row is None:
            raise NotFound(f"No mailbox {address} in this organization.")
        return row, None
    name = str(domain).strip().lower().rstrip(".")
    row = Domain.objects.filter(organization=organization, name=name).first()
    if row is None:
        raise NotFound(f"No domain {name} in this organization.")
    return None, row


def _mailboxes_of(rule: Rule):
    if rule.mailbox_id:
        return Mailbox.objects.select_related("domain", "organization").filter(pk=rule.mailbox_id)
    return Mailbox.objects.select_related("domain", "organization").filter(domain_id=rule.domain_id)


def _after_commit_refresh(mailbox_ids: list[int]) -> None:
    def refresh():
        from mailherd.imapwatch.services import watch_refresh

        try:
            watch_refresh(mailbox_ids=mailbox_ids)
        except Exception:  # noqa: BLE001 - the periodic refresh catches up
            logger.exception("could not refresh the IMAP watch list")

    transaction.on_commit(refresh)


def _push(rule: Rule) -> list[int]:
    mailboxes = list(_mailboxes_of(rule))
    sieve.queue_push(mailboxes)
    ids = [m.pk for m in mailboxes]
    _after_commit_refresh(ids)
    return ids


def _ensure_secret(rule: Rule) -> str | None:
    """A webhook rule gets its signing secret once; returns it when it was just made."""
    if "webhook" in rule.action_types and not rule.webhook_secret:
        from mailherd.webhooks.services import webhook_secret_generate

        rule.webhook_secret = webhook_secret_generate()
        return rule.webhook_secret
    return None


def rule_create(
    *,
    actor: Actor,
    organization,
    name,
    actions,
    conditions=None,
    match="all",
    mailbox: str | None = None,
    domain: str | None = None,
    priority=None,
    stop: bool = False,
    enabled: bool = True,
) -> Rule:
    """Create a rule on one mailbox or on every mailbox of a domain (status pending until
    Mailcow took the Sieve script). A webhook rule carries `webhook_secret` (whsec_…)."""
    _check_feature(organization)
    name = _clean_name(name)
    match = _clean_match(match)
    conditions = cond.clean_conditions(conditions)
    actions = cond.clean_actions(actions, clean_url=_clean_url)
    priority = _clean_priority(priority)
    with transaction.atomic():
        organization = _lock(organization)
        _check_feature(organization)
        mailbox_row, domain_row = _scope(organization, mailbox=mailbox, domain=domain)
        _check_forwarding(organization, actions)
        used = selectors.rule_count(organization=organization)
        limit = organization.plan.max_mail_rules
        if used >= limit:
            raise PlanLimitExceeded(
                limit_name="mail_rules", limit=limit, used=used, plan=organization.plan.name
            )
        rule = Rule(
            organization=organization,
            mailbox=mailbox_row,
            domain=domain_row,
            name=name,
            match=match,
            conditions=conditions,
            actions=actions,
            priority=priority,
            stop=bool(stop),
            enabled=bool(enabled),
            created_by=actor.user,
        )
        _ensure_secret(rule)
        rule.save()
        audit_record(
            actor=actor,
            action="rule.create",
            organization=organization,
            obj=rule,
            data={"scope": rule.scope_label, "actions": rule.action_types},
        )
        _push(rule)
    return rule


def _rule_for_update(organization, rule_id) -> Rule:
    rule = (
        Rule.objects.select_for_update(of=("self",))
        .select_related("mailbox", "domain")
        .filter(organization=organization, pk=rule_id)
        .first()
    )
    if rule is None:
        raise NotFound(f"No rule {rule_id} in this organization.")
    return rule


UNSET = object()


def rule_update(
    *,
    actor: Actor,
    organization,
    rule_id: int,
    name=UNSET,
    match=UNSET,
    conditions=UNSET,
    actions=UNSET,
    priority=UNSET,
    stop=UNSET,
    enabled=UNSET,
) -> Rule:
    """Change a rule; its mailboxes' scripts are recompiled (status pending again)."""
    _check_feature(organization)
    changes: dict = {}
    if name is not UNSET:
        changes["name"] = _clean_name(name)
    if match is not UNSET:
        changes["match"] = _clean_match(match)
    if conditions is not UNSET:
        changes["conditions"] = cond.clean_conditions(conditions)
    if actions is not UNSET:
        changes["actions"] = cond.clean_actions(actions, clean_url=_clean_url)
    if priority is not UNSET:
        changes["priority"] = _clean_priority(priority)
    if stop is not UNSET:
        changes["stop"] = bool(stop)
    if enabled is not UNSET:
        changes["enabled"] = bool(enabled)
    with transaction.atomic():
        organization = _lock(organization)
        rule = _rule_for_update(organization, rule_id)
        if "actions" in changes:
            _check_forwarding(organization, changes["actions"])
        changed = {k: v for k, v in changes.items() if getattr(rule, k) != v}
        if not changed:
            return rule
        for key, value in changed.items():
            setattr(rule, key, value)
        _ensure_secret(rule)
        rule.status, rule.error = Rule.Status.PENDING, ""
        rule.save()
        audit_record(
            actor=actor,
            action="rule.update",
            organization=organization,
            obj=rule,
            data={"changed": sorted(changed)},
        )
        _push(rule)
    return rule


def rule_delete(*, actor: Actor, organization, rule_id: int) -> None:
    """Delete a rule: its Sieve part goes at once, and the watcher stops acting on it (its
    tasks and notes stay)."""
    with transaction.atomic():
        organization = _lock(organization)
        rule = _rule_for_update(organization, rule_id)
        mailboxes = list(_mailboxes_of(rule))
        audit_record(
            actor=actor,
            action="rule.delete",
            organization=organization,
            obj=rule,
            data={"name": rule.name, "scope": rule.scope_label},
        )
        rule.delete()
        sieve.queue_push(mailboxes)
        _after_commit_refresh([m.pk for m in mailboxes])


def rules_mailboxes_created(mailboxes) -> None:
    """New mailboxes in a domain with rules get the domain's script (in the creating
    transaction, queued behind their creation on the server)."""
    domain_ids = {m.domain_id for m in mailboxes}
    with_rules = set(
        Rule.objects.filter(domain_id__in=domain_ids).values_list("domain_id", flat=True)
    )
    chosen = [m for m in mailboxes if m.domain_id in with_rules]
    if chosen:
        sieve.queue_push(chosen)
        _after_commit_refresh([m.pk for m in chosen])


# -- tasks and notes ------------------------------------------------------------------------


def _member(organization, email: str):
    from mailherd.tenancy.models import Membership

    membership = (
        Membership.objects.select_related("user")
        .filter(organization=organization, user__email__iexact=(email or "").strip())
        .first()
    )
    if membership is None:
        raise ValidationFailed(f"{email} is not a member of this organization.", field="assignee")
    return membership.user


def task_update(
    *,
    actor: Actor,
    organization,
    task_id: int,
    status=UNSET,
    assignee=UNSET,
    due_date=UNSET,
    title=UNSET,
) -> Task:
    """Change a task: open/done, who works on it (a member's email, or "" for nobody), when
    it is due (YYYY-MM-DD or null), its title."""
    import datetime

    with transaction.atomic():
        task = (
            Task.objects.select_for_update().filter(organization=organization, pk=task_id).first()
        )
        if task is None:
            raise NotFound(f"No task {task_id} in this organization.")
        changed = {}
        if status is not UNSET:
            if status not in Task.Status.values:
                raise ValidationFailed("status is 'open' or 'done'.", field="status")
            if status != task.status:
                task.status = status
                task.completed_at = timezone.now() if status == Task.Status.DONE else None
                task.completed_by = actor.label if status == Task.Status.DONE else ""
                changed["status"] = status
        if assignee is not UNSET:
            user = _member(organization, assignee) if assignee else None
            if user != task.assignee:
                task.assignee = user
                changed["assignee"] = user.email if user else ""
        if due_date is not UNSET:
            if due_date in (None, ""):
                value = None
            elif isinstance(due_date, datetime.date):
                value = due_date
            else:
                try:
                    value = datetime.date.fromisoformat(str(due_date))
                except ValueError:
                    raise ValidationFailed("Give the due date as YYYY-MM-DD.", field="due_date")
            if value != task.due_date:
                task.due_date = value
                changed["due_date"] = str(value or "")
        if title is not UNSET:
            value = " ".join(str(title or "").split())[:500]
            if not value:
                raise ValidationFailed("A task needs a title.", field="title")
            if value != task.title:
                task.title = value
                changed["title"] = True
        if changed:
            task.save()
            audit_record(
                actor=actor, action="task.update", organization=organization, obj=task,
                data=changed,
            )  # fmt: skip
    return task


def task_complete(*, actor: Actor, organization, task_id: int) -> Task:
    return task_update(
        actor=actor, organization=organization, task_id=task_id, status=Task.Status.DONE
    )


def task_delete(*, actor: Actor, organization, task_id: int) -> None:
    with transaction.atomic():
        task = (
            Task.objects.select_for_update().filter(organization=organization, pk=task_id).first()
        )
        if task is None:
            raise NotFound(f"No task {task_id} in this organization.")
        audit_record(
            actor=actor, action="task.delete", organization=organization, obj=task,
            data={"title": task.title},
        )  # fmt: skip
        task.delete()


def note_delete(*, actor: Actor, organization, note_id: int) -> None:
    with transaction.atomic():
        note = (
            Note.objects.select_for_update().filter(organization=organization, pk=note_id).first()
        )
        if note is None:
            raise NotFound(f"No note {note_id} in this organization.")
        audit_record(
            actor=actor, action="note.delete", organization=organization, obj=note,
            data={"title": note.title},
        )  # fmt: skip
        note.delete()


# -- test a rule ----------------------------------------------------------------------------


def rule_test_access(*, mailbox) -> bool:
    """Make sure the watcher's read credential exists for `mailbox`; True when it is usable."""
    from mailherd.imapwatch.models import WatchedMailbox

    watched = WatchedMailbox.objects.filter(mailbox=mailbox).first()
    if watched is not None and watched.credential_status == WatchedMailbox.CredentialStatus.ACTIVE:
        TestAccess.objects.filter(mailbox=mailbox).update(requested_at=timezone.now())
        return True
    TestAccess.objects.update_or_create(mailbox=mailbox, defaults={"requested_at": timezone.now()})
    from mailherd.imapwatch.services import watch_refresh

    watch_refresh(mailbox_ids=[mailbox.pk])
    return False


def rule_test(
    *,
    organization,
    mailbox: str,
    conditions,
    match="all",
    limit: int = 50,
    fetch=None,
) -> dict:
    """Run conditions against the mailbox's last `limit` messages in INBOX (nothing is changed).

    Returns {"ready": bool, "checked": n, "matched": n, "messages": [{uid, subject, sender,
    date, matches}]}. While the read credential is being set up, "ready" is false.
    """
    from mailherd.rules.mailreader import last_messages

    conditions = cond.clean_conditions(conditions)
    match = _clean_match(match)
    address = str(mailbox or "").strip().lower()
    row = (
        Mailbox.objects.select_related("domain__mail_server")
        .filter(organization=organization, address=address)
        .first()
    )
    if row is None:
        raise NotFound(f"No mailbox {address} in this organization.")
    if fetch is None:
        if not rule_test_access(mailbox=row):
            return {"ready": False, "checked": 0, "matched": 0, "messages": []}
        fetch = last_messages
    compiled = cond.compile_conditions(conditions)
    results = []
    for message in fetch(row, limit=limit):
        results.append(
            {
                "uid": message.uid,
                "subject": message.subject,
                "sender": message.sender,
                "date": message.date,
                "matches": cond.conditions_match(match, compiled, message),
            }
        )
    results.sort(key=lambda r: r["uid"], reverse=True)
    return {
        "ready": True,
        "checked": len(results),
        "matched": sum(1 for r in results if r["matches"]),
        "messages": results,
    }


# -- what the watcher does with a new message ----------------------------------------------


def _evaluate(rules: list[Rule], message) -> list[Rule]:
    """The rules that act on `message`, in order, as the Sieve script runs them: up to the first
    matching rule that stops; none at all when a matching rule ignores (discards) the mail."""
    acting = []
    for rule in rules:
        compiled = getattr(rule, "_compiled", None)
        if compiled is None:
            compiled = rule._compiled = cond.compile_conditions(rule.conditions)
        if not cond.conditions_match(rule.match, compiled, message):
            continue
        if "discard" in rule.action_types:
            return []  # ignored mail is never a task, a note or a webhook call
        acting.append(rule)
        if rule.stop:
            break
    return acting


def _webmail_url(message) -> str:
    from urllib.parse import quote

    server = message.mailbox.domain.mail_server
    base = (getattr(server, "webmail_url", "") or "").rstrip("/")
    if not base:
        return ""
    if base.lower().endswith("/sogo"):
        return f"{base}/so/{quote(message.mailbox.address)}/Mail/view#!/Mail/0/{quote(message.folder)}/{message.uid}"
    return f"{base}/?_task=mail&_mbox={quote(message.folder)}&_uid={message.uid}&_action=show"


def due_date_from(text: str, *, base):
    """The first date the text names that is not in the past (dateparser), or None."""
    import dateparser.search

    snippet = (text or "")[:1000]
    if not snippet.strip():
        return None
    base = base or timezone.now()
    try:
        found = dateparser.search.search_dates(
            snippet,
            languages=["en", "de", "fr"],
            settings={
                "PREFER_DATES_FROM": "future",
                "RELATIVE_BASE": base.replace(tzinfo=None),
                "REQUIRE_PARTS": ["day", "month"],
            },
        )
    except Exception:  # noqa: BLE001 - a date we cannot read is no due date
        return None
    for phrase, value in found or []:
        if len(phrase.strip()) < 4:
            continue
        if value.date() >= base.date():
            return value.date()
    return None


def _item_fields(message, rule: Rule) -> dict:
    import nh3

    return {
        "organization_id": rule.organization_id,
        "rule": rule,
        "mailbox": message.mailbox,
        "message_key": message.key,
        "folder": message.folder,
        "uid": message.uid,
        "title": (" ".join(message.subject.split()) or "(no subject)")[:500],
        "text": message.text[:100_000],
        "html": nh3.clean(message.html)[:200_000] if message.html else "",
        "sender": message.sender[:320],
        "sender_display": message.sender_display[:500],
        "recipients": message.recipients[:50],
        "received_at": message.date or message.internal_date or timezone.now(),
        "webmail_url": _webmail_url(message)[:1000],
    }


def _keep_attachments(item, message, plan, field: str) -> None:
    budget = plan.max_rule_attachment_mb * 1024 * 1024
    rows, dropped = [], 0
    for attachment in message.attachments:
        if attachment.size > budget:
            dropped += 1
            continue
        budget -= attachment.size
        rows.append(
            Attachment(
                **{field: item},
                filename=attachment.filename[:255],
                content_type=attachment.content_type[:200],
                size=attachment.size,
                content=attachment.content,
            )
        )
    if rows:
        Attachment.objects.bulk_create(rows)
    if dropped:
        type(item).objects.filter(pk=item.pk).update(attachments_dropped=dropped)


def webhook_document(message, rule: Rule) -> dict:
    headers = []
    for name, value in message.parsed.items():
        headers.append({"name": name, "value": str(value)[:2000]})
    return {
        "rule": {"id": rule.pk, "name": rule.name},
        "mailbox": message.mailbox.address,
        "message_id": message.message_id,
        "folder": message.folder,
        "from": message.sender,
        "from_display": message.sender_display,
        "to": message.recipients,
        "envelope_to": message.envelope_recipients,
        "subject": message.subject,
        "date": message.date.isoformat() if message.date else None,
        "text": message.text[:100_000],
        "headers": headers[:200],
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in message.attachments
        ],
        "size": message.size,
    }


def message_apply(message) -> dict:
    """The watcher's side of the rules for one new message (inside its exactly-once
    transaction): tasks, notes and webhook calls of the rules that act on it."""
    from mailherd.webhooks.services import event_emit, webhook_send

    mailbox = message.mailbox
    made = {"tasks": 0, "notes": 0, "webhooks": 0}
    rules = selectors.rules_for_mailbox(mailbox)
    acting = _evaluate(rules, message)
    if not acting:
        return made
    plan = mailbox.organization.plan
    for rule in acting:
        kinds = rule.action_types
        if (
            "task" in kinds
            and not Task.objects.filter(
                mailbox=mailbox, message_key=message.key, rule=rule
            ).exists()
        ):
            task = Task.objects.create(
                **_item_fields(message, rule),
                due_date=due_date_from(
                    f"{message.subject}\n{message.text}", base=message.date or timezone.now()
                ),
            )
            _keep_attachments(task, message, plan, "task")
            event_emit(
                organization=mailbox.organization,
                event_type="task.created",
                data={
                    "id": task.pk,
                    "title": task.title,
                    "sender": task.sender,
                    "mailbox": mailbox.address,
                    "rule": {"id": rule.pk, "name": rule.name},
                    "due_date": str(task.due_date) if task.due_date else None,
                },
                object_key=f"task:{task.pk}",
            )
            made["tasks"] += 1
        if (
            "note" in kinds
            and not Note.objects.filter(
                mailbox=mailbox, message_key=message.key, rule=rule
            ).exists()
        ):
            note = Note.objects.create(**_item_fields(message, rule))
            _keep_attachments(note, message, plan, "note")
            made["notes"] += 1
        for action in rule.actions:
            if action["type"] != "webhook":
                continue
            try:
                with transaction.atomic():
                    webhook_send(
                        url=action["url"],
                        secret=rule.webhook_secret,
                        event_type=WEBHOOK_EVENT,
                        data=webhook_document(message, rule),
                        source=f"rule:{rule.pk}",
                        organization=mailbox.organization,
                        object_key=f"mailbox:{mailbox.address}",
                    )
                made["webhooks"] += 1
            except MailherdError as exc:  # the URL is no longer allowed (now private, say)
                logger.warning("rule %s: webhook not sent: %s", rule.pk, exc)
    return made
