"""A customer adds and verifies a domain and fills the plan with mailboxes, in Chromium.

Against the Mailcow simulator over HTTP and a real DNS server (PowerDNS).
"""

import re

import pytest

from mailherd.hosting.provisioning import outbox_drain
from mailherd.mailcow.models import MailServer
from mailherd.mailcow.services import client_for
from tests.conftest import PASSWORD, make_org, make_user
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _sign_in(page, live_server, email):
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator(".auth-card button[type=submit]").click()


def test_domain_to_full_plan_in_the_portal(live_server, page, mailcow_sim, dns_nameserver):  # noqa: F811
    mailcow_sim.reset()
    server = MailServer.objects.create(
        name="sim", api_url=mailcow_sim.url, api_key=mailcow_sim.api_key, hostname="mail.provider.test",
        imap_host="imap.provider.test", smtp_host="smtp.provider.test", webmail_url="https://mail.provider.test/SOGo",
    )
    owner = make_user("owner@portal-e2e.test")
    organization = make_org(owner, "Portal Co")
    _sign_in(page, live_server, owner.email)
    page.wait_for_url(re.compile(rf".*/o/{organization.slug}/$"))

    # add the domain and read the TXT record off the page
    page.get_by_role("link", name="Domains").click()
    page.fill("input[name=name]", "portal-e2e.test")
    page.get_by_role("button", name="Add domain").click()
    page.wait_for_url(re.compile(r".*/domains/portal-e2e.test/$"))
    value = page.locator("code", has_text="domain-verify=").first.inner_text()
    screenshot(page, "10-domain-unverified")

    # verifying too early says so
    page.get_by_role("button", name="Verify now").click()
    assert page.get_by_text("is not verified yet").first.is_visible()

    dns_nameserver.create_zone("portal-e2e.test")
    dns_nameserver.set_record("portal-e2e.test", "_domain-verify.portal-e2e.test", "TXT", [value])
    page.get_by_role("button", name="Verify now").click()
    assert page.get_by_text("is verified").first.is_visible()
    outbox_drain()
    page.reload()
    assert page.locator(".badge", has_text="Active").first.is_visible()
    mailcow = client_for(server)
    assert mailcow.get_domain("portal-e2e.test") is not None and mailcow.get_dkim("portal-e2e.test") is not None
    screenshot(page, "11-domain-active")

    # ten mailboxes fill the starter plan
    for number in range(10):
        page.goto(f"{live_server.url}/o/{organization.slug}/mailboxes/new/")
        page.fill("input[name=local_part]", f"user{number}")
        page.fill("input[name=quota_mb]", "512")
        page.get_by_role("button", name="Create mailbox").click()
        page.wait_for_url(re.compile(rf".*/mailboxes/user{number}@portal-e2e.test/$"))
        if number == 0:
            assert page.locator("#new-password").inner_text().strip()
            screenshot(page, "12-mailbox-created")
    outbox_drain()
    assert len(mailcow.list_mailboxes("portal-e2e.test")) == 10

    # at the limit "New mailbox" is disabled, the limit and the way to upgrade are shown,
    # and Mailcow never hears of an eleventh
    before = mailcow_sim.request_count()
    page.goto(f"{live_server.url}/o/{organization.slug}/mailboxes/")
    assert page.locator(".btn[aria-disabled=true]", has_text="New mailbox").is_visible()
    assert page.get_by_text("10 of 10 mailboxes used on the Starter plan.").is_visible()
    assert page.get_by_role("link", name="Upgrade your plan").is_visible()
    page.goto(f"{live_server.url}/o/{organization.slug}/mailboxes/new/")
    assert page.get_by_text("10 of 10 mailboxes used").is_visible()
    assert page.locator("input[name=local_part]").count() == 0
    screenshot(page, "13-plan-limit")
    outbox_drain()
    assert mailcow_sim.request_count() == before

    page.goto(f"{live_server.url}/o/{organization.slug}/mailboxes/")
    assert page.get_by_text("user9@portal-e2e.test").is_visible()
    screenshot(page, "14-mailbox-list")
    page.goto(f"{live_server.url}/o/{organization.slug}/")
    screenshot(page, "15-dashboard-full")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/o/{organization.slug}/mailboxes/user0@portal-e2e.test/")
    screenshot(page, "16-phone-mailbox")
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
