"""Mailbox users and single sign-on per mailbox / organization, through the API and the portal."""

from mailherd.core.actors import Actor
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services.mailboxes import mailbox_create
from mailherd.tenancy.models import Membership, Role
from tests.conftest import make_user


def _member(tenants, email):
    user = make_user(email)
    Membership.objects.create(organization=tenants.acme, user=user, role=Role.MEMBER)
    return user


def test_assign_a_member_and_switch_sso_through_the_api(api, tenants, sim, sim_acme):
    _member(tenants, "carol@acme.test")
    mailbox_create(
        actor=Actor.system(),
        organization=tenants.acme,
        address="carol@acme.test",
        password="Old-Password-1234",
    )
    outbox_drain()
    old_hash = sim.state.mailboxes["carol@acme.test"].password

    status, body = api("patch", "/mailboxes/carol@acme.test", {"user": "Carol@Acme.test"})
    assert status == 200 and body["user"] == "carol@acme.test" and body["sso"] is False

    status, body = api("patch", "/mailboxes/carol@acme.test", {"sso": True})
    assert status == 200 and body["sso"] is True and body["password"] is None
    sim.clear_requests()
    outbox_drain()
    box = sim.state.mailboxes["carol@acme.test"]
    assert box.authsource == "generic-oidc"
    assert box.password != old_hash  # a random password went first: the old one cannot come back
    edits = [r["body"]["attr"] for r in sim.request_log() if r["path"].endswith("/edit/mailbox")]
    assert "password" in edits[0] and "authsource" not in edits[0]
    assert edits[-1]["authsource"] == "generic-oidc"

    status, error = api("patch", "/mailboxes/carol@acme.test", {"password": "Another-Pass-98765"})
    assert status == 422 and "app password" in error["message"]

    status, body = api("patch", "/mailboxes/carol@acme.test", {"sso": False})
    assert status == 200 and body["sso"] is False and len(body["password"]) >= 12
    outbox_drain()
    assert sim.state.mailboxes["carol@acme.test"].authsource == "mailcow"


def test_user_must_be_a_member_and_other_orgs_mailboxes_are_404(api, tenants, sim_acme):
    mailbox_create(actor=Actor.system(), organization=tenants.acme, address="info@acme.test")
    status, error = api("patch", "/mailboxes/info@acme.test", {"user": "bob@globex.test"})
    assert status == 422 and error["field"] == "user" and "not a member" in error["message"]
    status, _ = api("patch", "/mailboxes/info@acme.test", {"user": ""})
    assert status == 200
    status, _ = api("patch", "/mailboxes/bob@globex.test", {"user": "alice@acme.test"})
    assert status == 404


def test_organization_in_sso_mode_creates_oidc_mailboxes(api, tenants, sim, sim_acme):
    mailbox_create(actor=Actor.system(), organization=tenants.acme, address="old@acme.test")
    status, body = api("put", "/mail-sign-in", {"mode": "sso", "require_two_factor": True})
    assert status == 200 and body == {"mode": "sso", "require_two_factor": True, "passwords": {}}
    status, created = api("post", "/mailboxes", {"address": "new@acme.test"})
    assert status == 201 and created["sso"] is True and created["password"] is None
    outbox_drain()
    assert sim.state.mailboxes["new@acme.test"].authsource == "generic-oidc"
    assert sim.state.mailboxes["old@acme.test"].authsource == "generic-oidc"
    status, body = api("put", "/mail-sign-in", {"mode": "password"})
    assert set(body["passwords"]) == {"old@acme.test", "new@acme.test"}
    status, error = api("put", "/mail-sign-in", {"mode": "magic"})
    assert status == 422


def test_portal_assigns_the_user_and_shows_open_webmail_only_to_them(client, tenants, sim_acme):
    carol = _member(tenants, "carol@acme.test")
    mailbox_create(actor=Actor.system(), organization=tenants.acme, address="carol@acme.test")
    client.force_login(tenants.alice)
    page = f"/o/{tenants.acme.slug}/mailboxes/carol@acme.test/"
    response = client.post(page + "user/", {"user": "carol@acme.test", "sso": "on"})
    assert response.status_code == 302
    html = client.get(page).content.decode()
    assert "Used by <strong>carol@acme.test</strong>" in html
    assert "Open webmail" not in html  # alice owns Acme but does not read carol's mail
    client.force_login(carol)
    html = client.get(f"/o/{tenants.acme.slug}/my-mailboxes/").content.decode()
    assert "carol@acme.test" in html and "/webmail/carol@acme.test/" in html
    client.force_login(tenants.bob)
    assert client.post(page + "user/", {"user": "bob@globex.test"}).status_code == 404


def test_owner_opens_mailcow_admin_for_the_organizations_domains(client, tenants, sim, sim_acme):
    import httpx

    from mailherd.plans.models import Plan

    client.force_login(tenants.alice)
    url = f"/o/{tenants.acme.slug}/mailcow-admin/"
    refused = client.post(url, follow=True)  # the plan does not have it
    assert "/domainadmin/" not in refused.redirect_chain[-1][0] and not sim.state.domain_admins
    plan = Plan.objects.get(pk=tenants.acme.plan_id)
    plan.features = [*plan.features, "mailcow_admin"]
    plan.save()
    assert (
        "Open mail server admin"
        in client.get(f"/o/{tenants.acme.slug}/mail-sign-in/").content.decode()
    )
    response = client.post(url)
    assert response.status_code == 302 and "/domainadmin/mailbox?sso_token=" in response["Location"]
    with httpx.Client(follow_redirects=True, trust_env=False) as browser:
        page = browser.get(response["Location"])
        assert page.url.path == "/domainadmin/mailbox" and "acme.test" in page.text
        again = httpx.get(response["Location"], trust_env=False)  # single use
        assert again.headers["location"] == "/"
    carol = make_user("carol@acme.test")
    Membership.objects.create(organization=tenants.acme, user=carol, role=Role.ADMIN)
    client.force_login(carol)
    assert client.post(url).status_code == 404  # owners only
