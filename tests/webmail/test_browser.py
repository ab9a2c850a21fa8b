"""Webmail single sign-on in Chromium: Mailherd and the Mailcow simulator over real HTTP.

The browser signs in to Mailherd, opens webmail, the simulator (Mailcow's
generic-oidc client) sends it to /o/authorize/, exchanges the code, calls
userinfo and lands it on /SOGo/so/ as the bound mailbox.
"""

import re

import pytest
from django.core.management import call_command

from mailherd.core.actors import Actor
from mailherd.hosting.models import Domain
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services.mailboxes import mailbox_create, mailbox_update
from mailherd.hosting.services.suspension import organization_mail_suspend
from mailherd.mailcow.models import MailServer
from mailherd.tenancy.models import Membership, Role
from tests.conftest import PASSWORD, make_org, make_user
from tests.e2e.conftest import screenshot
from tests.hosting.conftest import verified_domain

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def sign_in(page, live_server, email):
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator(".auth-card button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/o/[^/]+/$|.*/portal/$"))


@pytest.fixture
def world(live_server, mailcow_sim, settings):
    mailcow_sim.reset()
    settings.SITE_URL = live_server.url
    owner = make_user("owner@acme.test")
    acme = make_org(owner, "Acme")
    carol = make_user("carol@acme.test")
    Membership.objects.create(organization=acme, user=carol, role=Role.MEMBER)
    bob = make_user("bob@globex.test")
    make_org(bob, "Globex")
    server = MailServer.objects.create(
        name="sim", api_url=mailcow_sim.url, api_key=mailcow_sim.api_key
    )
    domain = verified_domain(acme, "acme.test")
    Domain.objects.filter(pk=domain.pk).update(mail_server=server)
    call_command(
        "webmail_sso_setup", server="sim", webmail_url=mailcow_sim.url, site_url=live_server.url
    )
    mailbox_create(
        actor=Actor.system(), organization=acme, address="carol@acme.test", name="Carol Cooper"
    )
    mailbox_update(
        actor=Actor.system(),
        organization=acme,
        address="carol@acme.test",
        user="carol@acme.test",
        sso=True,
    )
    outbox_drain()
    assert mailcow_sim.state.mailboxes["carol@acme.test"].authsource == "generic-oidc"
    return {"acme": acme, "owner": owner, "carol": carol, "bob": bob, "sim": mailcow_sim}


def test_mailbox_user_lands_in_sogo_and_suspension_ends_it(world, live_server, page):
    sim = world["sim"]
    sign_in(page, live_server, "carol@acme.test")
    page.goto(f"{live_server.url}/webmail/carol@acme.test/")
    page.wait_for_url(f"{sim.url}/SOGo/so/")
    assert page.locator("#user").inner_text() == "carol@acme.test"
    screenshot(page, "webmail-sogo-landing")

    # Mailcow's pages refresh the token on every load: still carol.
    page.goto(f"{sim.url}/user")
    assert page.locator("#user").inner_text() == "carol@acme.test"

    organization_mail_suspend(
        actor=Actor.system(), organization_id=world["acme"].pk, reason="unpaid"
    )
    # The next page load's refresh fails: Mailcow ends the session and sends the browser back
    # to Mailherd, which refuses a suspended organization.
    page.goto(f"{sim.url}/user")
    page.wait_for_url(re.compile(re.escape(live_server.url) + r"/o/authorize/.*"))
    assert "suspended" in page.locator("[role=alert]").inner_text()
    page.goto(f"{sim.url}/SOGo/so/")
    assert page.locator("#user").count() == 0 or page.url != f"{sim.url}/SOGo/so/"
    screenshot(page, "webmail-refused-suspended")


def test_owner_who_is_not_the_user_is_refused(world, live_server, page):
    sign_in(page, live_server, "owner@acme.test")
    response = page.goto(f"{live_server.url}/webmail/carol@acme.test/")
    assert response.status == 403
    assert (
        "Only the person this mailbox is assigned to" in page.locator("[role=alert]").inner_text()
    )
    # Starting at Mailcow does not help: /o/authorize/ has no mailbox for the owner.
    page.goto(f"{world['sim'].url}/?iam_sso=1")
    assert "/o/authorize/" in page.url
    assert page.locator("[role=alert]").count() == 1


def test_user_of_another_organization_is_refused(world, live_server, page):
    sign_in(page, live_server, "bob@globex.test")
    response = page.goto(f"{live_server.url}/webmail/carol@acme.test/")
    assert response.status == 404
    page.goto(f"{world['sim'].url}/?iam_sso=1")
    assert "/o/authorize/" in page.url and "/SOGo/" not in page.url


def test_suspended_organization_cannot_open_webmail(world, live_server, page):
    organization_mail_suspend(
        actor=Actor.system(), organization_id=world["acme"].pk, reason="unpaid"
    )
    sign_in(page, live_server, "carol@acme.test")
    response = page.goto(f"{live_server.url}/webmail/carol@acme.test/")
    assert response.status == 403
    assert "suspended" in page.locator("[role=alert]").inner_text()
    screenshot(page, "webmail-refused-desktop")


def test_mailbox_user_pages_on_desktop_and_phone(world, live_server, page, phone_page):
    slug = world["acme"].slug
    for view, suffix in ((page, "desktop"), (phone_page, "phone")):
        sign_in(view, live_server, "carol@acme.test")
        view.goto(f"{live_server.url}/o/{slug}/my-mailboxes/")
        assert view.get_by_role("link", name="Open webmail").is_visible()
        screenshot(view, f"webmail-my-mailboxes-{suffix}")
        view.get_by_role("link", name="carol@acme.test").click()
        view.fill("input[name=name]", f"Laptop {suffix}")
        view.get_by_role("button", name="Create app password").click()
        assert view.locator("#new-app-password").inner_text()
        screenshot(view, f"webmail-mailbox-self-{suffix}")
        view.context.clear_cookies()
        sign_in(view, live_server, "owner@acme.test")
        plan = world["acme"].plan
        plan.features = sorted({*plan.features, "mailcow_admin"})
        plan.save(update_fields=["features"])
        view.goto(f"{live_server.url}/o/{slug}/mail-sign-in/")
        assert view.get_by_role("button", name="Open mail server admin").is_visible()
        screenshot(view, f"webmail-sign-in-settings-{suffix}")
        view.goto(f"{live_server.url}/o/{slug}/mailboxes/carol@acme.test/")
        view.locator("#webmail-card").scroll_into_view_if_needed()
        screenshot(view, f"webmail-mailbox-card-{suffix}")
