"""Portal pages for rules, tasks and notes: the editor, filters, and outsiders get 404."""

import pytest

from mailherd.core.actors import Actor
from mailherd.hosting.models import Mailbox
from mailherd.rules import services
from mailherd.rules.models import Attachment, Note, Rule, Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_rule(acme_mail):
    return services.rule_create(
        actor=Actor.system(),
        organization=acme_mail.acme,
        mailbox="ann@acme.test",
        name="Invoices",
        conditions=[{"field": "subject", "op": "contains", "value": "invoice"}],
        actions=[{"type": "task"}],
    )


def _items(acme_mail, rule):
    mailbox = Mailbox.objects.get(address="ann@acme.test")
    common = {"organization": acme_mail.acme, "rule": rule, "mailbox": mailbox}
    task = Task.objects.create(**common, message_key="<a@x>", title="Invoice 7", sender="s@x.test")
    Task.objects.create(
        **common, message_key="<b@x>", title="Order 9", sender="o@x.test", status="done"
    )
    note = Note.objects.create(**common, message_key="<c@x>", title="Minutes", text="We met.")
    attachment = Attachment.objects.create(
        task=task, filename="a.pdf", content_type="application/pdf", size=3, content=b"pdf"
    )
    return task, note, attachment


def test_the_editor_saves_a_rule_from_its_rows(client, acme_mail):
    client.force_login(acme_mail.alice)
    slug = acme_mail.acme.slug
    assert client.get(f"/o/{slug}/rules/new/").status_code == 200
    response = client.post(
        f"/o/{slug}/rules/new/",
        {
            "do": "save", "name": "Invoices", "scope": "m:ann@acme.test", "match": "all",
            "priority": "5", "enabled": "1",
            "cond_field_0": "subject", "cond_op_0": "contains", "cond_value_0": "invoice",
            "cond_header_0": "",
            "cond_field_1": "size", "cond_op_1": "contains", "cond_value_1": "2M", "cond_header_1": "",
            "cond_field_2": "subject", "cond_op_2": "contains", "cond_value_2": "", "cond_header_2": "",
            "act_type_0": "task", "act_value_0": "",
            "act_type_1": "forward", "act_value_1": "books@acme.test, boss@acme.test",
            "act_type_2": "", "act_value_2": "",
        },
    )  # fmt: skip
    rule = Rule.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/rules/{rule.pk}/")
    assert rule.conditions == [
        {"field": "subject", "op": "contains", "value": "invoice"},
        {"field": "size", "op": "above", "value": 2 * 1024 * 1024},
    ]
    assert rule.actions == [
        {"type": "task"},
        {"type": "forward", "to": ["books@acme.test", "boss@acme.test"], "keep_copy": True},
    ]
    page = client.get(f"/o/{slug}/rules/{rule.pk}/").content.decode()
    assert 'value="invoice"' in page and "books@acme.test, boss@acme.test" in page
    listing = client.get(f"/o/{slug}/rules/").content.decode()
    assert "Subject contains “invoice”" in listing and "Create a task" in listing


def test_the_editor_says_what_is_wrong_in_plain_words(client, acme_mail):
    client.force_login(acme_mail.alice)
    response = client.post(
        f"/o/{acme_mail.acme.slug}/rules/new/",
        {"do": "save", "name": "Bad", "scope": "m:ann@acme.test", "act_type_0": "discard",
         "act_value_0": "", "act_type_1": "task", "act_value_1": ""},
    )  # fmt: skip
    assert response.status_code == 200
    assert "cannot do anything else with it" in response.content.decode()
    assert not Rule.objects.exists()


def test_task_and_note_pages_search_filter_and_complete(client, acme_mail, acme_rule):
    task, note, attachment = _items(acme_mail, acme_rule)
    client.force_login(acme_mail.alice)
    slug = acme_mail.acme.slug
    page = client.get(f"/o/{slug}/tasks/").content.decode()
    assert "Invoice 7" in page and "Order 9" not in page  # open ones by default
    page = client.get(f"/o/{slug}/tasks/", {"status": "all", "q": "order"}).content.decode()
    assert "Order 9" in page and "Invoice 7" not in page
    response = client.post(f"/o/{slug}/tasks/{task.pk}/", {"do": "done"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == "done" and task.completed_by
    response = client.post(
        f"/o/{slug}/tasks/{task.pk}/",
        {"do": "save", "assignee": "alice@acme.test", "due_date": "2026-12-24"},
    )
    task.refresh_from_db()
    assert task.assignee == acme_mail.alice and str(task.due_date) == "2026-12-24"
    assert "Minutes" in client.get(f"/o/{slug}/notes/", {"q": "met"}).content.decode()
    assert "We met." in client.get(f"/o/{slug}/notes/{note.pk}/").content.decode()
    download = client.get(f"/o/{slug}/rules/attachments/{attachment.pk}/")
    assert download.status_code == 200 and download.content == b"pdf"


def test_outsiders_get_404_on_every_page(client, acme_mail, acme_rule):
    task, note, attachment = _items(acme_mail, acme_rule)
    slug = acme_mail.acme.slug
    client.force_login(acme_mail.bob)  # Globex's owner
    for path in [
        f"/o/{slug}/rules/", f"/o/{slug}/rules/{acme_rule.pk}/", f"/o/{slug}/tasks/",
        f"/o/{slug}/tasks/{task.pk}/", f"/o/{slug}/notes/", f"/o/{slug}/notes/{note.pk}/",
        f"/o/{slug}/rules/attachments/{attachment.pk}/",
    ]:  # fmt: skip
        assert client.get(path).status_code == 404, path
    globex = acme_mail.globex.slug
    for path in [
        f"/o/{globex}/rules/{acme_rule.pk}/", f"/o/{globex}/tasks/{task.pk}/",
        f"/o/{globex}/notes/{note.pk}/", f"/o/{globex}/rules/attachments/{attachment.pk}/",
    ]:  # fmt: skip
        assert client.get(path).status_code == 404, path
    for path, data in [
        (f"/o/{globex}/rules/{acme_rule.pk}/delete/", {}),
        (f"/o/{globex}/tasks/{task.pk}/", {"do": "done"}),
        (f"/o/{globex}/notes/{note.pk}/", {"do": "delete"}),
        (f"/o/{globex}/rules/{acme_rule.pk}/deliveries/1/resend/", {}),
    ]:
        assert client.post(path, data).status_code == 404, path
    assert Rule.objects.filter(pk=acme_rule.pk).exists() and Note.objects.exists()
    assert Task.objects.get(pk=task.pk).status == "open"
    assert "Invoice 7" not in client.get(f"/o/{globex}/tasks/").content.decode()


def test_tasks_and_notes_api_with_outsiders(api, outsider, acme_mail, acme_rule):
    task, note, _ = _items(acme_mail, acme_rule)
    status, body = api("get", "/tasks")
    assert status == 200 and body["count"] == 2
    status, body = api("get", "/tasks", status="open")
    [item] = body["items"]
    assert item["title"] == "Invoice 7" and item["attachments"][0]["filename"] == "a.pdf"
    assert item["rule"] == {"id": acme_rule.pk, "name": "Invoices"} and item["status"] == "open"
    status, body = api("post", f"/tasks/{task.pk}/complete")
    assert status == 200 and body["status"] == "done" and body["completed_at"]
    status, body = api("patch", f"/tasks/{task.pk}", {"assignee": "nobody@else.test"})
    assert status == 422 and "not a member" in body["message"]
    assert api("get", "/notes", q="met")[1]["count"] == 1
    assert api("get", f"/notes/{note.pk}")[1]["text"] == "We met."
    assert outsider("get", "/tasks")[1]["count"] == 0
    assert outsider("get", "/notes")[1]["count"] == 0
    for method, path in [("get", f"/tasks/{task.pk}"), ("patch", f"/tasks/{task.pk}"),
                         ("post", f"/tasks/{task.pk}/complete"), ("delete", f"/tasks/{task.pk}"),
                         ("get", f"/notes/{note.pk}"), ("delete", f"/notes/{note.pk}")]:  # fmt: skip
        status, body = outsider(method, path, {} if method in ("patch", "post") else None)
        assert status == 404, path
    assert api("delete", f"/notes/{note.pk}")[0] == 204


def test_a_rules_webhook_calls_are_listed_and_can_be_sent_again(client, acme_mail, settings):
    from mailherd.webhooks.models import WebhookDelivery
    from mailherd.webhooks.services import webhook_send

    settings.MAILHERD_ALLOW_PRIVATE_TARGETS = True
    rule = services.rule_create(
        actor=Actor.system(),
        organization=acme_mail.acme,
        mailbox="ann@acme.test",
        name="Tickets",
        actions=[{"type": "webhook", "url": "http://127.0.0.1:9/hook"}],
    )
    first = webhook_send(
        url="http://127.0.0.1:9/hook", secret=rule.webhook_secret, event_type="rule.matched",
        data={"subject": "x"}, source=f"rule:{rule.pk}", organization=acme_mail.acme,
    )  # fmt: skip
    client.force_login(acme_mail.alice)
    slug = acme_mail.acme.slug
    page = client.get(f"/o/{slug}/rules/{rule.pk}/").content.decode()
    assert "Webhook calls" in page and "Send again" in page
    response = client.post(f"/o/{slug}/rules/{rule.pk}/deliveries/{first.pk}/resend/")
    assert response.status_code == 302
    again = WebhookDelivery.objects.exclude(pk=first.pk).get()
    assert again.event_id == first.event_id and again.resent_from_id == first.pk
