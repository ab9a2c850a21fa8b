"""Out-of-office: a Sieve vacation filter of its own on Mailcow, through the outbox (API and portal)."""

from sievelib.parser import Parser

from mailherd.core.actors import Actor
from mailherd.hosting.models import Mailbox
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services.mailboxes import mailbox_create
from mailherd.mailcow.services import client_for
from mailherd.tenancy.models import Membership, Role
from mailherd.webmail.autoreply import AUTOREPLY_DESCRIPTION
from tests.conftest import make_user


def _filters(server, address):
    with client_for(server) as mailcow:
        return mailcow.list_sieve_filters(address)


def test_out_of_office_with_dates_through_the_api(api, tenants, sim_acme):
    mailbox_create(actor=Actor.system(), organization=tenants.acme, address="jane@acme.test")
    outbox_drain()
    with client_for(sim_acme) as mailcow:  # a filter of the rules app stays untouched
        mailcow.add_sieve_filter(
            "jane@acme.test",
            script='require "fileinto";\nif header :contains "Subject" "x" {\n  fileinto "X";\n}',
            description="mailherd rules",
            filter_type="prefilter",
        )
    body = {
        "enabled": True,
        "subject": 'Away "until" Monday',
        "message": "I'm away.\nBack on 24 December.",
        "starts_on": "2026-12-20",
        "ends_on": "2026-12-24",
    }
    status, saved = api("put", "/mailboxes/jane@acme.test/out-of-office", body)
    assert status == 200 and saved == body
    outbox_drain()
    [ours] = [
        f for f in _filters(sim_acme, "jane@acme.test") if f.description == AUTOREPLY_DESCRIPTION
    ]
    assert ours.filter_type == "postfilter"
    assert Parser().parse(ours.script)
    assert 'currentdate :value "ge" "date" ["2026-12-20"]' in ours.script
    assert 'currentdate :value "le" "date" ["2026-12-24"]' in ours.script
    assert "vacation" in ours.script and 'Away \\"until\\" Monday' in ours.script
    # Saved again: still one script of ours, and the rules' filter is still there.
    api("put", "/mailboxes/jane@acme.test/out-of-office", {**body, "message": "Changed"})
    outbox_drain()
    descriptions = sorted(
        f.description for f in _filters(sim_acme, "jane@acme.test")
    )  # one of each
    assert descriptions == sorted([AUTOREPLY_DESCRIPTION, "mailherd rules"])
    status, _ = api("put", "/mailboxes/jane@acme.test/out-of-office", {"enabled": False})
    outbox_drain()
    assert [f.description for f in _filters(sim_acme, "jane@acme.test")] == ["mailherd rules"]
    assert api("get", "/mailboxes/jane@acme.test/out-of-office")[1]["enabled"] is False


def test_bad_input_is_explained(api, tenants, sim_acme):
    mailbox_create(actor=Actor.system(), organization=tenants.acme, address="jane@acme.test")
    status, error = api("put", "/mailboxes/jane@acme.test/out-of-office", {"enabled": True})
    assert status == 422 and error["field"] == "message"
    status, error = api(
        "put",
        "/mailboxes/jane@acme.test/out-of-office",
        {"enabled": True, "message": "x", "starts_on": "2026-12-24", "ends_on": "2026-12-20"},
    )
    assert status == 422 and error["field"] == "ends_on"
    status, error = api(
        "put",
        "/mailboxes/jane@acme.test/out-of-office",
        {"enabled": True, "message": "x", "starts_on": "soon"},
    )
    assert status == 422 and error["field"] == "starts_on"
    assert api("get", "/mailboxes/bob@globex.test/out-of-office")[0] == 404


def test_mailbox_user_sets_it_on_their_page(client, tenants, sim_acme):
    carol = make_user("carol@acme.test")
    Membership.objects.create(organization=tenants.acme, user=carol, role=Role.MEMBER)
    mailbox, _ = mailbox_create(
        actor=Actor.system(), organization=tenants.acme, address="carol@acme.test"
    )
    Mailbox.objects.filter(pk=mailbox.pk).update(user=carol)
    client.force_login(carol)
    page = f"/o/{tenants.acme.slug}/my-mailboxes/carol@acme.test/"
    response = client.post(
        page,
        {
            "form": "autoreply",
            "enabled": "on",
            "subject": "Away",
            "message": "Back soon",
            "ends_on": "2026-12-31",
        },
    )
    assert response.status_code == 302
    outbox_drain()
    [ours] = _filters(sim_acme, "carol@acme.test")
    assert ours.description == AUTOREPLY_DESCRIPTION and "2026-12-31" in ours.script
    assert "Out-of-office reply saved" in client.get(page).content.decode()
