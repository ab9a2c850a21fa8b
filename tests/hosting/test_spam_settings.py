"""Per-mailbox quarantine notices and spam thresholds, through the API and the portal, on the simulator."""

import pytest

from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.reconciler import reconcile_server
from mailherd.mailcow.services import client_for
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


@pytest.fixture
def mailcow(tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="jane@acme.test", quota_mb=10)
    outbox_drain()
    return client_for(mail_server)


def test_api_sets_notices_and_thresholds(mailcow, api):
    status, body = api("patch", "/mailboxes/jane@acme.test", {
        "quarantine_notification": "daily", "quarantine_category": "all",
        "spam_score": {"low": 6.5, "high": 12},
    })
    assert status == 200, body
    assert body["quarantine_notification"] == "daily" and body["spam_score"] == {"low": 6.5, "high": 12.0}
    outbox_drain()
    remote = mailcow.get_mailbox("jane@acme.test")
    assert (remote.quarantine_notification, remote.quarantine_category) == ("daily", "all")
    assert mailcow.get_spam_score("jane@acme.test") == (6.5, 12.0)

    status, body = api("patch", "/mailboxes/jane@acme.test", {"spam_score": None})
    assert body["spam_score"] is None
    outbox_drain()
    assert mailcow.get_spam_score("jane@acme.test") is None


def test_bad_values_are_refused_in_plain_words(mailcow, api):
    status, body = api("patch", "/mailboxes/jane@acme.test", {"quarantine_notification": "monthly"})
    assert status == 422 and "never, hourly, daily or weekly" in body["message"]
    status, body = api("patch", "/mailboxes/jane@acme.test", {"spam_score": {"low": 20, "high": 5}})
    assert status == 422 and "at most the high score" in body["message"]


def test_the_reconciler_repairs_notice_settings(mailcow, mail_server, api):
    api("patch", "/mailboxes/jane@acme.test", {"quarantine_notification": "weekly"})
    outbox_drain()
    mailcow.set_quarantine_notification("jane@acme.test", "never")
    result = reconcile_server(server=mail_server)
    assert "mailbox jane@acme.test: quarantine notice settings differ" in result.repaired
    outbox_drain()
    assert mailcow.get_mailbox("jane@acme.test").quarantine_notification == "weekly"


def test_portal_card(mailcow, alice_client):
    page = alice_client.get("/o/acme/mailboxes/jane@acme.test/").content.decode()
    assert "Spam filter" in page and "usual thresholds" in page
    response = alice_client.post("/o/acme/mailboxes/jane@acme.test/spam/", {
        "low": "5", "high": "", "quarantine_notification": "daily", "quarantine_category": "reject",
    }, follow=True)
    assert "Give both scores" in response.content.decode()
    response = alice_client.post("/o/acme/mailboxes/jane@acme.test/spam/", {
        "low": "5", "high": "14", "quarantine_notification": "daily", "quarantine_category": "reject",
    }, follow=True)
    assert "Spam settings saved." in response.content.decode()
    outbox_drain()
    assert mailcow.get_spam_score("jane@acme.test") == (5.0, 14.0)
