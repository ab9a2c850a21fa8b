"""The mailbox user's own page: forwarding, protocol access, spam filter level; the mailbox-user role.

Through the API and the portal, applied by the outbox to the simulator over HTTP.
"""

from sievelib.parser import Parser

from mailherd.core.actors import Actor
from mailherd.core.models import AuditEvent
from mailherd.hosting.models import Mailbox
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.reconciler import reconcile_server
from mailherd.hosting.services.mailboxes import mailbox_create
from mailherd.mailcow.client import Protocol
from mailherd.mailcow.services import client_for
from mailherd.plans.models import Feature
from mailherd.tenancy.models import Membership, Role
from mailherd.tenancy.services import invitation_accept, invitation_create
from mailherd.webmail.autoreply import AUTOREPLY_DESCRIPTION
from tests.conftest import make_user
from tests.hosting.conftest import verified_domain


def _own_filter(server, address):
    with client_for(server) as mailcow:
        ours = [f for f in mailcow.list_sieve_filters(address) if f.description == AUTOREPLY_DESCRIPTION]
    return ours


def _mailbox(tenants, address="jane@acme.test"):
    mailbox, _ = mailbox_create(actor=Actor.system(), organization=tenants.acme, address=address)
    outbox_drain()
    return mailbox


def test_forwarding_with_and_without_a_copy_through_the_api(api, tenants, sim_acme):
    _mailbox(tenants)
    status, body = api(
        "put", "/mailboxes/jane@acme.test/forwarding", {"targets": ["ops@acme.test"], "keep_copy": True}
    )
    assert status == 200 and body == {"targets": ["ops@acme.test"], "keep_copy": True}
    outbox_drain()
    [script] = _own_filter(sim_acme, "jane@acme.test")
    assert script.filter_type == "postfilter" and script.active
    assert Parser().parse(script.script)
    assert 'redirect :copy "ops@acme.test";' in script.script

    # The out-of-office reply shares the one active script (Mailcow keeps one per type).
    api("put", "/mailboxes/jane@acme.test/out-of-office", {"enabled": True, "message": "Away"})
    api("put", "/mailboxes/jane@acme.test/forwarding", {"targets": ["ops@acme.test"], "keep_copy": False})
    outbox_drain()
    [script] = _own_filter(sim_acme, "jane@acme.test")
    assert "vacation" in script.script and ":copy" not in script.script
    assert 'redirect "ops@acme.test";' in script.script
    assert api("get", "/mailboxes/jane@acme.test/forwarding")[1]["keep_copy"] is False

    status, _ = api("put", "/mailboxes/jane@acme.test/forwarding", {"targets": []})
    outbox_drain()
    [script] = _own_filter(sim_acme, "jane@acme.test")
    assert "redirect" not in script.script and "vacation" in script.script
    assert AuditEvent.objects.filter(action="mailbox.forwarding").count() == 3


def test_forwarding_is_checked_before_the_mail_server(api, tenants, sim_acme):
    _mailbox(tenants)
    status, error = api("put", "/mailboxes/jane@acme.test/forwarding", {"targets": ["jane@acme.test"]})
    assert status == 422 and error["field"] == "targets"
    status, error = api("put", "/mailboxes/jane@acme.test/forwarding", {"targets": ["not an address"]})
    assert status == 422 and error["field"] == "targets"
    many = [f"x{i}@acme.test" for i in range(6)]
    assert api("put", "/mailboxes/jane@acme.test/forwarding", {"targets": many})[0] == 422
    # Outside the organization's domains: only where the plan allows external forwarding.
    plan = tenants.acme.plan
    plan.features = [f for f in plan.features if f != Feature.EXTERNAL_FORWARDING]
    plan.save()
    status, error = api("put", "/mailboxes/jane@acme.test/forwarding", {"targets": ["me@gmail.test"]})
    assert status == 403 and "plan" in error["message"]
    outbox_drain()
    assert _own_filter(sim_acme, "jane@acme.test") == []
    # Another organization's mailbox does not exist for this token.
    verified_domain(tenants.globex, "globex.test")
    mailbox_create(actor=Actor.system(), organization=tenants.globex, address="bob@globex.test")
    assert api("get", "/mailboxes/bob@globex.test/forwarding")[0] == 404
    assert api("put", "/mailboxes/bob@globex.test/forwarding", {"targets": ["a@acme.test"]})[0] == 404
    assert api("put", "/mailboxes/bob@globex.test/protocols", {"imap": False})[0] == 404
    assert api("put", "/mailboxes/bob@globex.test/spam-filter", {"level": "strict"})[0] == 404


def test_protocol_access_reaches_mailcow_and_is_repaired(api, tenants, sim_acme):
    _mailbox(tenants)
    status, body = api("put", "/mailboxes/jane@acme.test/protocols", {"pop3": False, "sieve": False})
    assert status == 200
    assert body == {"imap": True, "pop3": False, "smtp": True, "sieve": False, "sogo": True}
    assert Mailbox.objects.get(address="jane@acme.test").sync_status == "pending"
    outbox_drain()
    with client_for(sim_acme) as mailcow:
        access = mailcow.get_mailbox("jane@acme.test").access
        assert (access[Protocol.POP3], access[Protocol.SIEVE], access[Protocol.IMAP]) == (False, False, True)
        mailcow.edit_mailbox("jane@acme.test", access={"pop3": True})  # changed behind our back
    result = reconcile_server(server=sim_acme)
    assert any("protocol access" in line for line in result.repaired)
    outbox_drain()
    with client_for(sim_acme) as mailcow:
        assert mailcow.get_mailbox("jane@acme.test").access[Protocol.POP3] is False
    assert api("put", "/mailboxes/jane@acme.test/protocols", {"ftp": False})[0] == 422
    assert AuditEvent.objects.filter(action="mailbox.protocols").count() == 1


def test_spam_filter_level(api, tenants, sim_acme):
    _mailbox(tenants)
    assert api("get", "/mailboxes/jane@acme.test/spam-filter")[1]["level"] == "default"
    status, body = api("put", "/mailboxes/jane@acme.test/spam-filter", {"level": "strict"})
    assert status == 200 and body == {"level": "strict", "low": 5.0, "high": 10.0}
    outbox_drain()
    with client_for(sim_acme) as mailcow:
        assert mailcow.get_spam_score("jane@acme.test") == (5.0, 10.0)
    api("put", "/mailboxes/jane@acme.test/spam-filter", {"level": "default"})
    outbox_drain()
    with client_for(sim_acme) as mailcow:
        assert mailcow.get_spam_score("jane@acme.test") is None
    status, error = api("put", "/mailboxes/jane@acme.test/spam-filter", {"level": "paranoid"})
    assert status == 422 and error["field"] == "level"


def test_mailbox_user_invited_sees_only_their_own_mailbox(
    client, tenants, sim_acme, django_capture_on_commit_callbacks, mailoutbox
):
    owner = Membership.objects.get(organization=tenants.acme, user=tenants.alice)
    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(
            actor=Actor.for_user(tenants.alice),
            membership=owner,
            email="carol@acme.test",
            role="mailbox_user",
        )
    assert "as mailbox user" in mailoutbox[-1].body
    token = mailoutbox[-1].body.split("/invitations/")[1].split("/")[0]
    carol = make_user("carol@acme.test")
    invitation_accept(actor=Actor.for_user(carol), token=token)
    assert Membership.objects.get(organization=tenants.acme, user=carol).role == Role.MAILBOX_USER
    mine = _mailbox(tenants, "carol@acme.test")
    _mailbox(tenants, "dave@acme.test")
    Mailbox.objects.filter(pk=mine.pk).update(user=carol)
    client.force_login(carol)
    slug = tenants.acme.slug
    assert client.get(f"/o/{slug}/")["Location"].endswith(f"/o/{slug}/my-mailboxes/")
    listing = client.get(f"/o/{slug}/my-mailboxes/").content.decode()
    assert "carol@acme.test" in listing and "dave@acme.test" not in listing
    assert "Domains" not in listing and "Members" not in listing  # the navigation shows her pages only
    for page in ("domains/", "mailboxes/", "members/", "api-tokens/", "my-mailboxes/dave@acme.test/"):
        assert client.get(f"/o/{slug}/{page}").status_code == 404, page
    # Her own page: forwarding, access and spam filter through the portal.
    page = f"/o/{slug}/my-mailboxes/carol@acme.test/"
    assert client.post(page, {"form": "forwarding", "targets": "carol.home@acme.test", "keep_copy": "on"}).status_code == 302
    assert client.post(page, {"form": "protocols", "imap": "on", "smtp": "on", "sogo": "on"}).status_code == 302
    assert client.post(page, {"form": "spam_level", "level": "relaxed"}).status_code == 302
    outbox_drain()
    [script] = _own_filter(sim_acme, "carol@acme.test")
    assert 'redirect :copy "carol.home@acme.test";' in script.script
    with client_for(sim_acme) as mailcow:
        access = mailcow.get_mailbox("carol@acme.test").access
        assert not access[Protocol.POP3] and not access[Protocol.SIEVE] and access[Protocol.IMAP]
        assert mailcow.get_spam_score("carol@acme.test") == (12.0, 25.0)
    shown = client.get(page).content.decode()
    assert "carol.home@acme.test" in shown
    assert AuditEvent.objects.filter(action="mailbox.forwarding", actor_user=carol).exists()
    assert AuditEvent.objects.filter(action="mailbox.protocols", actor_user=carol).exists()


def test_portal_explains_a_refused_forwarding(client, tenants, sim_acme):
    carol = make_user("carol@acme.test")
    Membership.objects.create(organization=tenants.acme, user=carol, role=Role.MAILBOX_USER)
    mine = _mailbox(tenants, "carol@acme.test")
    Mailbox.objects.filter(pk=mine.pk).update(user=carol)
    client.force_login(carol)
    page = f"/o/{tenants.acme.slug}/my-mailboxes/carol@acme.test/"
    response = client.post(page, {"form": "forwarding", "targets": "carol@acme.test"})
    assert response.status_code == 200
    assert "cannot forward to itself" in response.content.decode()
