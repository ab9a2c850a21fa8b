"""Rules, tasks and notes tools: an agent works the queue through the same services."""

import pytest

from mailherd.core.actors import Actor
from mailherd.hosting.models import Mailbox
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services.mailboxes import mailbox_create
from mailherd.rules.models import Note, Task
from tests.hosting.conftest import verified_domain

from .test_tools import ok, refused

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_agent_makes_a_rule_and_works_the_task_queue(
    acme_mcp, globex_mcp, tenants, mail_server, sim
):
    verified_domain(tenants.acme, "acme.test")
    mailbox_create(actor=Actor.system(), organization=tenants.acme, address="ann@acme.test")
    outbox_drain()
    names = {t.name for t in acme_mcp.tools()}
    assert {"list_tasks", "get_task", "complete_task", "list_notes", "create_rule"} <= names
    created = ok(acme_mcp.call(
        "create_rule", mailbox="ann@acme.test", name="Invoices",
        conditions=[{"field": "subject", "op": "contains", "value": "invoice"}],
        actions=[{"type": "task"}],
    ))  # fmt: skip
    assert created["status"] == "pending"
    outbox_drain()
    assert ok(acme_mcp.call("get_rule", id=created["id"]))["status"] == "active"
    mailbox = Mailbox.objects.get(address="ann@acme.test")
    task = Task.objects.create(organization=tenants.acme, mailbox=mailbox, message_key="<a@x>",
                               title="Invoice 7", text="Pay by Friday", sender="s@x.test")  # fmt: skip
    Note.objects.create(organization=tenants.acme, mailbox=mailbox, message_key="<b@x>",
                        title="Minutes", text="We met.")  # fmt: skip
    listed = ok(acme_mcp.call("list_tasks"))
    assert listed["count"] == 1 and listed["tasks"][0]["title"] == "Invoice 7"
    assert ok(acme_mcp.call("get_task", id=task.pk))["text"] == "Pay by Friday"
    done = ok(acme_mcp.call("complete_task", id=task.pk))
    assert done["status"] == "done"
    assert ok(acme_mcp.call("list_tasks"))["count"] == 0
    assert ok(acme_mcp.call("list_notes", search="met"))["notes"][0]["title"] == "Minutes"
    # another organization's agent sees none of it
    refused(globex_mcp.call("get_task", id=task.pk), "not_found")
    refused(globex_mcp.call("complete_task", id=task.pk), "not_found")
    refused(globex_mcp.call("get_rule", id=created["id"]), "not_found")
    assert ok(globex_mcp.call("list_notes"))["count"] == 0
    assert (
        ok(acme_mcp.call("delete_rule", id=created["id"], confirm=True))["deleted"] == created["id"]
    )
