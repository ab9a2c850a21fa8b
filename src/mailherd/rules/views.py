"""Portal pages for mail rules, tasks and notes: thin, over the same services as the API."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mailherd.core.errors import MailherdError
from mailherd.hosting.models import Domain, Mailbox
from mailherd.operator.selectors import feature_enabled
from mailherd.portal.base import org_view, portal_context
from mailherd.rules import conditions as cond
from mailherd.rules import selectors, services
from mailherd.rules.models import Rule, Task
from mailherd.tenancy.selectors import can_manage_hosting

NOT_ALLOWED = "Only owners and admins can change mail rules."
ROWS = 4
FIELDS = [
    ("subject", "Subject"),
    ("from", "From"),
    ("to", "To / Cc / recipient"),
    ("body", "Body text"),
    ("header", "Header…"),
    ("attachment", "Has an attachment"),
    ("no_attachment", "Has no attachment"),
    ("size", "Size above"),
]
OPS = [
    ("contains", "contains"),
    ("is", "is"),
    ("starts_with", "starts with"),
    ("regex", "matches regex"),
]
ACTIONS = [
    ("", "—"),
    ("task", "Create a task"),
    ("note", "Create a note"),
    ("forward", "Forward to (keep a copy)"),
    ("forward_move", "Forward to (no copy)"),
    ("fileinto", "File into folder"),
    ("mark_read", "Mark as read"),
    ("discard", "Ignore (discard silently)"),
    ("webhook", "Call a webhook"),
]


def _rule_or_404(request, rule_id):
    rule = selectors.rule_get(organization=request.organization, rule_id=rule_id)
    if rule is None:
        raise Http404
    return rule


def _scopes(organization):
    mailboxes = Mailbox.objects.filter(organization=organization).order_by("address")
    domains = Domain.objects.filter(organization=organization).order_by("name")
    return [("m:" + m.address, m.address) for m in mailboxes] + [
        ("d:" + d.name, f"Every mailbox of {d.name}") for d in domains
    ]


@org_view
def rule_list(request):
    context = portal_context(
        request,
        nav="rules",
        rules=[(r, [cond.describe_condition(c) for c in r.conditions],
                [cond.describe_action(a) for a in r.actions])
               for r in selectors.rule_list(organization=request.organization)],
        can_manage=can_manage_hosting(request.membership),
        in_plan=feature_enabled("mail_rules", request.organization),
        used=selectors.rule_count(organization=request.organization),
        limit=request.organization.plan.max_mail_rules,
    )  # fmt: skip
    return render(request, "rules/rule_list.html", context)


def _rows_from_rule(rule) -> tuple[list[dict], list[dict]]:
    conditions, actions = [], []
    for c in rule.conditions if rule else []:
        field, header = c["field"], ""
        if field.startswith("header:"):
            field, header = "header", c["field"].split(":", 1)[1]
        if field == "attachment" and not c["value"]:
            field = "no_attachment"
        value = "" if field in ("attachment", "no_attachment") else c["value"]
        if field == "size":
            value = cond.human_size(c["value"]).replace(" bytes", "")
        conditions.append({"field": field, "header": header, "op": c["op"], "value": value})
    for a in rule.actions if rule else []:
        kind, value = a["type"], ""
        if kind == "forward":
            value = ", ".join(a["to"])
            kind = "forward" if a.get("keep_copy", True) else "forward_move"
        elif kind == "fileinto":
            value = a["folder"]
        elif kind == "webhook":
            value = a["url"]
        actions.append({"type": kind, "value": value})
    blank_c = {"field": "subject", "header": "", "op": "contains", "value": ""}
    conditions += [dict(blank_c) for _ in range(max(0, ROWS - len(conditions)))]
    actions += [{"type": "", "value": ""} for _ in range(max(0, ROWS - len(actions)))]
    return conditions, actions


def _rows_from_post(post) -> tuple[list[dict], list[dict]]:
    conditions, actions = [], []
    index = 0
    while f"cond_field_{index}" in post:
        conditions.append(
            {
                "field": post.get(f"cond_field_{index}", ""),
                "header": post.get(f"cond_header_{index}", "").strip(),
                "op": post.get(f"cond_op_{index}", "contains"),
                "value": post.get(f"cond_value_{index}", "").strip(),
            }
        )
        index += 1
    index = 0
    while f"act_type_{index}" in post:
        actions.append(
            {
                "type": post.get(f"act_type_{index}", ""),
                "value": post.get(f"act_value_{index}", "").strip(),
            }
        )
        index += 1
    return conditions, actions


def _spec(condition_rows, action_rows) -> tuple[list[dict], list[dict]]:
    """The rows of the editor as the services' conditions and actions (blank rows left out)."""
    conditions = []
    for row in condition_rows:
        field = row["field"]
        if field in ("attachment", "no_attachment"):
            conditions.append({"field": "attachment", "value": field == "attachment"})
        elif field == "size":
            if row["value"]:
                conditions.append({"field": "size", "op": "above", "value": row["value"]})
        elif row["value"]:
            name = f"header:{row['header']}" if field == "header" else field
            conditions.append({"field": name, "op": row["op"], "value": row["value"]})
    actions = []
    for row in action_rows:
        kind, value = row["type"], row["value"]
        if not kind:
            continue
        if kind in ("forward", "forward_move"):
            targets = [t for t in value.replace(";", ",").replace(" ", ",").split(",") if t]
            actions.append({"type": "forward", "to": targets, "keep_copy": kind == "forward"})
        elif kind == "fileinto":
            actions.append({"type": "fileinto", "folder": value})
        elif kind == "webhook":
            actions.append({"type": "webhook", "url": value})
        else:
            actions.append({"type": kind})
    return conditions, actions


@org_view
def rule_edit(request, rule_id=None):
    rule = _rule_or_404(request, rule_id) if rule_id else None
    can_manage = can_manage_hosting(request.membership)
    scopes = _scopes(request.organization)
    error = None
    test_result = None
    new_secret = None
    shown = request.session.pop("rule_webhook_secret", None)
    if rule and shown and shown.get("id") == rule.pk:
        new_secret = shown["secret"]
    if request.method == "POST":
        condition_rows, action_rows = _rows_from_post(request.POST)
        values = {
            "name": request.POST.get("name", ""),
            "scope": request.POST.get("scope", ""),
            "match": request.POST.get("match", "all"),
            "priority": request.POST.get("priority", "100"),
            "stop": bool(request.POST.get("stop")),
            "enabled": bool(request.POST.get("enabled")),
        }
        conditions, actions = _spec(condition_rows, action_rows)
        scope = values["scope"] if not rule else (
            "m:" + rule.mailbox.address if rule.mailbox_id else "d:" + rule.domain.name
        )  # fmt: skip
        try:
            if request.POST.get("do") == "test":
                mailbox = request.POST.get("test_mailbox") or scope[2:]
                if scope.startswith("d:") and not request.POST.get("test_mailbox"):
                    first = (
                        Mailbox.objects.filter(
                            organization=request.organization, domain__name=scope[2:]
                        )
                        .order_by("address")
                        .first()
                    )
                    mailbox = first.address if first else ""
                test_result = services.rule_test(
                    organization=request.organization,
                    mailbox=mailbox,
                    match=values["match"],
                    conditions=conditions,
                )
                test_result["mailbox"] = mailbox
            elif not can_manage:
                error = NOT_ALLOWED
            elif rule is None:
                created = services.rule_create(
                    actor=request.actor,
                    organization=request.organization,
                    mailbox=scope[2:] if scope.startswith("m:") else None,
                    domain=scope[2:] if scope.startswith("d:") else None,
                    name=values["name"],
                    match=values["match"],
                    conditions=conditions,
                    actions=actions,
                    priority=values["priority"] or 100,
                    stop=values["stop"],
                    enabled=values["enabled"],
                )
                if created.webhook_secret:
                    request.session["rule_webhook_secret"] = {
                        "id": created.pk, "secret": created.webhook_secret,
                    }  # fmt: skip
                messages.success(request, "Rule saved. It is on its way to the mail server.")
                return redirect("rules:rule_edit", request.organization.slug, created.pk)
            else:
                had_secret = bool(rule.webhook_secret)
                updated = services.rule_update(
                    actor=request.actor,
                    organization=request.organization,
                    rule_id=rule.pk,
                    name=values["name"],
                    match=values["match"],
                    conditions=conditions,
                    actions=actions,
                    priority=values["priority"] or 100,
                    stop=values["stop"],
                    enabled=values["enabled"],
                )
                if updated.webhook_secret and not had_secret:
                    request.session["rule_webhook_secret"] = {
                        "id": updated.pk, "secret": updated.webhook_secret,
                    }  # fmt: skip
                messages.success(request, "Rule saved. It is on its way to the mail server.")
                return redirect("rules:rule_edit", request.organization.slug, rule.pk)
        except MailherdError as exc:
            error = exc.message
    else:
        condition_rows, action_rows = _rows_from_rule(rule)
        values = {
            "name": rule.name if rule else "",
            "scope": (
                ("m:" + rule.mailbox.address if rule.mailbox_id else "d:" + rule.domain.name)
                if rule else (scopes[0][0] if scopes else "")
            ),
            "match": rule.match if rule else "all",
            "priority": rule.priority if rule else 100,
            "stop": rule.stop if rule else False,
            "enabled": rule.enabled if rule else True,
        }  # fmt: skip
    deliveries = []
    if rule and "webhook" in rule.action_types:
        from mailherd.webhooks.models import WebhookDelivery

        deliveries = list(
            WebhookDelivery.objects.filter(
                organization=request.organization, source=f"rule:{rule.pk}"
            ).prefetch_related("attempt_log")[:20]
        )
    context = portal_context(
        request,
        nav="rules",
        rule=rule,
        values=values,
        scopes=scopes,
        condition_rows=[(i, r) for i, r in enumerate(condition_rows)],
        action_rows=[(i, r) for i, r in enumerate(action_rows)],
        fields=FIELDS,
        ops=OPS,
        action_choices=ACTIONS,
        error=error,
        test_result=test_result,
        can_manage=can_manage,
        new_secret=new_secret,
        deliveries=deliveries,
        in_plan=feature_enabled("mail_rules", request.organization),
    )
    return render(request, "rules/rule_edit.html", context)


@require_POST
@org_view
def rule_delete(request, rule_id):
    rule = _rule_or_404(request, rule_id)
    if not can_manage_hosting(request.membership):
        messages.error(request, NOT_ALLOWED)
        return redirect("rules:rule_edit", request.organization.slug, rule.pk)
    services.rule_delete(actor=request.actor, organization=request.organization, rule_id=rule.pk)
    messages.success(request, f"Rule “{rule.name}” deleted; it stops at once.")
    return redirect("rules:rule_list", request.organization.slug)


@require_POST
@org_view
def rule_delivery_resend(request, rule_id, delivery_id):
    from mailherd.webhooks.models import WebhookDelivery
    from mailherd.webhooks.services import delivery_resend

    rule = _rule_or_404(request, rule_id)
    if not can_manage_hosting(request.membership):
        messages.error(request, NOT_ALLOWED)
    elif WebhookDelivery.objects.filter(
        organization=request.organization, source=f"rule:{rule.pk}", pk=delivery_id
    ).exists():
        delivery_resend(
            actor=request.actor, organization=request.organization, delivery_id=delivery_id
        )
        messages.success(request, "Queued again; it goes out in a few seconds.")
    else:
        raise Http404
    return redirect("rules:rule_edit", request.organization.slug, rule.pk)


# -- tasks and notes ------------------------------------------------------------------------


def _filters(request):
    return {
        "q": request.GET.get("q", "").strip()[:200],
        "mailbox": request.GET.get("mailbox", "").strip(),
        "rule": request.GET.get("rule", "").strip(),
    }


@org_view
def task_list(request):
    filters = _filters(request)
    status = request.GET.get("status", "open")
    if status not in ("open", "done", "all"):
        status = "open"
    assignee = request.GET.get("assignee", "").strip()
    due = request.GET.get("due", "")
    rows = selectors.task_list(
        organization=request.organization,
        status="" if status == "all" else status,
        q=filters["q"],
        mailbox=filters["mailbox"],
        rule_id=int(filters["rule"]) if filters["rule"].isdigit() else None,
        assignee=assignee,
        due=due if due in ("overdue", "dated") else "",
    )
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    from mailherd.tenancy.models import Membership

    context = portal_context(
        request,
        nav="tasks",
        page=page,
        status=status,
        assignee=assignee,
        due=due,
        filters=filters,
        mailboxes=Mailbox.objects.filter(organization=request.organization).order_by("address"),
        rules=Rule.objects.filter(organization=request.organization).order_by("name"),
        members=Membership.objects.filter(organization=request.organization).select_related("user"),
    )
    return render(request, "rules/task_list.html", context)


@org_view
def task_detail(request, task_id):
    task = selectors.task_get(organization=request.organization, task_id=task_id)
    if task is None:
        raise Http404
    from mailherd.tenancy.models import Membership

    if request.method == "POST":
        changes = {}
        do = request.POST.get("do")
        if do == "done":
            changes["status"] = Task.Status.DONE
        elif do == "reopen":
            changes["status"] = Task.Status.OPEN
        elif do == "save":
            changes["assignee"] = request.POST.get("assignee", "")
            changes["due_date"] = request.POST.get("due_date", "") or None
        elif do == "delete":
            services.task_delete(
                actor=request.actor, organization=request.organization, task_id=task.pk
            )
            messages.success(request, "Task deleted.")
            return redirect("rules:task_list", request.organization.slug)
        try:
            services.task_update(
                actor=request.actor, organization=request.organization, task_id=task.pk, **changes
            )
            messages.success(request, "Task saved.")
        except MailherdError as exc:
            messages.error(request, exc.message)
        return redirect("rules:task_detail", request.organization.slug, task.pk)
    context = portal_context(
        request,
        nav="tasks",
        item=task,
        members=Membership.objects.filter(organization=request.organization).select_related("user"),
    )
    return render(request, "rules/task_detail.html", context)


@org_view
def note_list(request):
    filters = _filters(request)
    rows = selectors.note_list(
        organization=request.organization,
        q=filters["q"],
        mailbox=filters["mailbox"],
        rule_id=int(filters["rule"]) if filters["rule"].isdigit() else None,
    )
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    context = portal_context(
        request,
        nav="notes",
        page=page,
        filters=filters,
        mailboxes=Mailbox.objects.filter(organization=request.organization).order_by("address"),
        rules=Rule.objects.filter(organization=request.organization).order_by("name"),
    )
    return render(request, "rules/note_list.html", context)


@org_view
def note_detail(request, note_id):
    note = selectors.note_get(organization=request.organization, note_id=note_id)
    if note is None:
        raise Http404
    if request.method == "POST" and request.POST.get("do") == "delete":
        services.note_delete(
            actor=request.actor, organization=request.organization, note_id=note.pk
        )
        messages.success(request, "Note deleted.")
        return redirect("rules:note_list", request.organization.slug)
    return render(
        request, "rules/note_detail.html", portal_context(request, nav="notes", item=note)
    )


@org_view
def attachment_download(request, attachment_id):
    attachment = selectors.attachment_get(
        organization=request.organization, attachment_id=attachment_id
    )
    if attachment is None:
        raise Http404
    response = HttpResponse(bytes(attachment.content), content_type="application/octet-stream")
    safe = attachment.filename.replace('"', "").replace("\r", "").replace("\n", "")
    response["Content-Disposition"] = f'attachment; filename="{safe}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
