"""The mailbox user's own page and the alias-domain / allow-block cards in Chromium, desktop and phone."""

import re

import pytest

from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.models import Mailbox
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services.aliasdomains import alias_domain_add
from mailherd.hosting.services.policies import domain_policy_add
from mailherd.mailcow.models import MailServer
from mailherd.tenancy.models import Membership, Role
from tests.conftest import PASSWORD, make_org, make_user
from tests.e2e.conftest import screenshot
from tests.hosting.conftest import verified_domain

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
SYSTEM = Actor.system()


def _sign_in(page, live_server, email):
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator(".auth-card button[type=submit]").click()


def _fits(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1


def test_own_page_and_domain_cards_on_desktop_and_phone(live_server, page, phone_page, mailcow_sim):
    mailcow_sim.reset()
    MailServer.objects.create(name="sim", api_url=mailcow_sim.url, api_key=mailcow_sim.api_key,
                              hostname="mail.provider.test")
    owner = make_user("owner@own-e2e.test")
    organization = make_org(owner, "Own Co", plan="business")
    verified_domain(organization, "own.test")
    carol = make_user("carol@own-e2e.test")
    Membership.objects.create(organization=organization, user=carol, role=Role.MAILBOX_USER)
    mailbox, _ = services.mailbox_create(actor=SYSTEM, organization=organization, address="carol@own.test")
    Mailbox.objects.filter(pk=mailbox.pk).update(user=carol)
    alias_domain_add(actor=SYSTEM, organization=organization, name="own-mail.test", target="own.test")
    domain_policy_add(actor=SYSTEM, organization=organization, name="own.test", list_name="allow",
                      sender="partner.example")
    domain_policy_add(actor=SYSTEM, organization=organization, name="own.test", list_name="block",
                      sender="*@spam.example")
    outbox_drain()
    base = f"{live_server.url}/o/{organization.slug}"

    for device, p in (("desktop", page), ("phone", phone_page)):
        # The mailbox user: only her own mailboxes.
        p.context.clear_cookies()
        _sign_in(p, live_server, carol.email)
        p.wait_for_url(re.compile(rf".*/o/{organization.slug}/my-mailboxes/$"))
        assert p.get_by_role("link", name="Domains").count() == 0
        screenshot(p, f"h1214-my-mailboxes-{device}")
        p.goto(f"{base}/my-mailboxes/carol@own.test/")
        p.fill("textarea[name=targets]", "carol.home@own.test")
        p.locator("#forwarding button[type=submit]").click()
        assert p.get_by_text("Forwarding to carol.home@own.test saved.").is_visible()
        p.locator("#protocols input[name=pop3]").uncheck()
        p.locator("#protocols button[type=submit]").click()
        assert p.get_by_text("Access saved.").is_visible()
        p.locator("#spam-filter input[value=strict]").check()
        p.locator("#spam-filter button[type=submit]").click()
        assert p.get_by_text("Spam filter saved.").is_visible()
        p.locator("#forwarding").scroll_into_view_if_needed()
        screenshot(p, f"h1214-mailbox-own-settings-{device}")
        _fits(p)

        # The owner: alias domains and allow/block lists on the domain page.
        p.context.clear_cookies()
        _sign_in(p, live_server, owner.email)
        p.wait_for_url(re.compile(rf".*/o/{organization.slug}/$"))
        p.goto(f"{base}/domains/own.test/")
        assert p.get_by_role("heading", name="Alias domains").is_visible()
        assert p.get_by_text("*@spam.example").is_visible()
        p.locator("#alias-domains").scroll_into_view_if_needed()
        screenshot(p, f"h1214-domain-alias-policy-{device}")
        _fits(p)
        p.goto(f"{base}/domains/own-mail.test/")
        assert p.get_by_text("Prove that the domain is yours").is_visible()
        assert p.get_by_text("Alias domain of").is_visible()
        screenshot(p, f"h1214-alias-domain-{device}")
        _fits(p)
    outbox_drain()
