"""The quarantine through the API and the portal, against the simulator over HTTP, strictly per organization."""

import pytest

from mailherd.core.actors import Actor
from mailherd.core.models import AuditEvent
from mailherd.hosting import services
from mailherd.hosting.provisioning import outbox_drain
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


@pytest.fixture
def held(tenants, mail_server, sim):
    verified_domain(tenants.acme, "acme.test")
    verified_domain(tenants.globex, "globex.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="jane@acme.test", quota_mb=10
    )
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.globex, address="hank@globex.test", quota_mb=10
    )
    outbox_drain()
    ours = sim.state.add_quarantine_item(
        rcpt="jane@acme.test",
        sender="offers@shop.example",
        subject="Your invoice",
        score=9.5,
        body="Hello Jane, the invoice is attached.",
    )
    virus = sim.state.add_quarantine_item(rcpt="jane@acme.test", subject="Open me", virus=True)
    theirs = sim.state.add_quarantine_item(rcpt="hank@globex.test", subject="Globex secret")
    return {
        "ours": f"{mail_server.pk}-{ours.id}",
        "virus": f"{mail_server.pk}-{virus.id}",
        "theirs": f"{mail_server.pk}-{theirs.id}",
        "sim": sim,
    }


def test_the_list_shows_only_the_organizations_messages(held, api):
    status, items = api("get", "/quarantine")
    assert status == 200
    assert {i["id"] for i in items} == {held["ours"], held["virus"]}
    assert all(i["recipient"] == "jane@acme.test" for i in items)
    assert not any("Globex" in i["subject"] for i in items)
    status, items = api("get", "/quarantine?mailbox=nobody@acme.test")
    assert items == []


def test_preview_release_and_learn_as_ham(held, api):
    status, message = api("get", f"/quarantine/{held['ours']}")
    assert status == 200, message
    assert message["headers"]["Subject"] == "Your invoice"
    assert "the invoice is attached" in message["text"]

    status, out = api("post", f"/quarantine/{held['ours']}/release", {"learn_ham": True})
    assert status == 202 and out["status"] == "releasing"
    _, items = api("get", "/quarantine")
    assert {i["id"]: i["status"] for i in items}[held["ours"]] == "releasing"
    status, again = api("post", f"/quarantine/{held['ours']}/release")
    assert status == 404  # already on its way

    outbox_drain()
    sim = held["sim"]
    released = [q for q in sim.state.released if q.subject == "Your invoice"]
    assert released and released[0].learned_ham
    _, items = api("get", "/quarantine")
    assert [i["id"] for i in items] == [held["virus"]]
    event = AuditEvent.objects.get(action="quarantine.release")
    assert event.data["learn_ham"] is True and event.data["recipient"] == "jane@acme.test"


def test_delete(held, api):
    status, _ = api("delete", f"/quarantine/{held['virus']}")
    assert status == 204
    outbox_drain()
    _, items = api("get", "/quarantine")
    assert held["virus"] not in {i["id"] for i in items}


@pytest.mark.parametrize("method,suffix", [("get", ""), ("post", "/release"), ("delete", "")])
def test_another_organizations_message_is_404(held, api, method, suffix):
    status, body = api(method, f"/quarantine/{held['theirs']}{suffix}")
    assert status == 404 and body["code"] == "not_found"
    outbox_drain()
    assert held["sim"].state.quarantine  # nothing released or deleted
    assert any(q.subject == "Globex secret" for q in held["sim"].state.quarantine.values())


@pytest.mark.parametrize("bad", ["42", "x-1", "999-1", "1-999999"])
def test_malformed_or_unknown_ids_are_404(held, api, bad):
    status, body = api("get", f"/quarantine/{bad}")
    assert status == 404


def test_portal_lists_previews_and_releases(held, alice_client):
    page = alice_client.get("/o/acme/quarantine/").content.decode()
    assert "Your invoice" in page and "Globex secret" not in page
    page = alice_client.get(f"/o/acme/quarantine/{held['ours']}/").content.decode()
    assert "the invoice is attached" in page and "Release and mark as not spam" in page
    response = alice_client.post(
        f"/o/acme/quarantine/{held['ours']}/action/", {"action": "release"}, follow=True
    )
    assert "being delivered" in response.content.decode()
    outbox_drain()
    assert "Your invoice" not in alice_client.get("/o/acme/quarantine/").content.decode()
    assert alice_client.get(f"/o/acme/quarantine/{held['theirs']}/").status_code == 404
    assert (
        alice_client.post(
            f"/o/acme/quarantine/{held['theirs']}/action/", {"action": "delete"}
        ).status_code
        == 404
    )
