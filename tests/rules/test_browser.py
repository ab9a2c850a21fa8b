"""Screenshots of the rule editor, the test-a-rule result, tasks and notes, desktop and phone."""

import re

import pytest

from mailherd.core.actors import Actor
from mailherd.hosting.models import Mailbox
from mailherd.imapwatch.message import IncomingMessage
from mailherd.rules import services
from mailherd.rules.models import Note, Task
from tests.conftest import PASSWORD
from tests.support.browser import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _message(uid, subject, sender):
    raw = f"From: {sender}\r\nTo: ann@acme.test\r\nSubject: {subject}\r\nMessage-ID: <{uid}@x>\r\nDate: Tue, 01 Dec 2026 10:0{uid % 10}:00 +0000\r\n\r\nHello\r\n"
    return IncomingMessage(mailbox=None, folder="INBOX", uid=uid, uidvalidity=1, raw=raw.encode())


def _sign_in(page, live_server, email):
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator(".auth-card button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/o/[^/]+/$|.*/portal/$"))


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_rules_pages_screenshots(acme_mail, live_server, page, phone_page, monkeypatch, device):
    view = page if device == "desktop" else phone_page
    acme = acme_mail.acme
    rule = services.rule_create(
        actor=Actor.system(), organization=acme, mailbox="ann@acme.test", name="Invoices to accounting",
        conditions=[{"field": "subject", "op": "contains", "value": "invoice"},
                    {"field": "attachment", "value": True}],
        actions=[{"type": "task"}, {"type": "forward", "to": ["books@acme.test"], "keep_copy": True}],
        priority=10, stop=True, match="any",
    )  # fmt: skip
    services.rule_create(actor=Actor.system(), organization=acme, domain="acme.test",
                         name="Newsletters", conditions=[{"field": "header:List-Id", "op": "contains", "value": "news"}],
                         actions=[{"type": "fileinto", "folder": "Newsletters"}, {"type": "mark_read"}])  # fmt: skip
    mailbox = Mailbox.objects.get(address="ann@acme.test")
    for n, (title, sender) in enumerate([("Invoice 2026-117 from Supplier Ltd", "billing@supplier.test"),
                                          ("Invoice 2026-118 (reminder)", "billing@supplier.test"),
                                          ("Order 5512 confirmed", "shop@vendor.test")]):  # fmt: skip
        Task.objects.create(organization=acme, mailbox=mailbox, rule=rule, message_key=f"<{n}@x>",
                            title=title, sender=sender, text="Please pay by 24 December.",
                            status="done" if n == 2 else "open")  # fmt: skip
    Note.objects.create(organization=acme, mailbox=mailbox, message_key="<n@x>", title="Minutes of the board meeting",
                        sender="chair@acme.test", text="We met and agreed on the budget.")  # fmt: skip
    monkeypatch.setattr(services, "rule_test_access", lambda mailbox: True)
    monkeypatch.setattr("mailherd.rules.mailreader.last_messages", lambda mailbox, limit=50: [
        _message(1, "Invoice 2026-117", "billing@supplier.test"), _message(2, "Lunch on Friday?", "jo@acme.test"),
        _message(3, "Your invoice is ready", "noreply@cloud.test"), _message(4, "Weekly newsletter", "news@list.test"),
    ])  # fmt: skip
    _sign_in(view, live_server, "alice@acme.test")
    slug = acme.slug
    view.goto(f"{live_server.url}/o/{slug}/rules/")
    screenshot(view, f"rules-list-{device}")
    view.goto(f"{live_server.url}/o/{slug}/rules/{rule.pk}/")
    screenshot(view, f"rules-editor-{device}")
    view.locator("button[value=test]").click()
    view.wait_for_selector("#test-result")
    assert "2</strong> of the last 4" in view.content()
    screenshot(view, f"rules-test-result-{device}")
    view.goto(f"{live_server.url}/o/{slug}/tasks/")
    assert "Invoice 2026-117" in view.content()
    screenshot(view, f"rules-tasks-{device}")
    view.goto(f"{live_server.url}/o/{slug}/notes/")
    screenshot(view, f"rules-notes-{device}")
