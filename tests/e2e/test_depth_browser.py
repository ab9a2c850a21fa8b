"""Mailcow's deeper settings in Chromium, desktop and phone: sending limits, smarthost, quarantine, imports."""

import re

import pytest

from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.provisioning import outbox_drain
from mailherd.mailcow.models import MailServer
from mailherd.mailcow.relays import relay_add, server_relay_set
from mailherd.plans.models import Plan
from tests.conftest import PASSWORD, make_org, make_user
from tests.e2e.conftest import PHONE, screenshot
from tests.hosting.conftest import verified_domain
from tests.support.old_imap import old_imap  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
SYSTEM = Actor.system()


def _sign_in(page, live_server, email):
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator(".auth-card button[type=submit]").click()


def _fits(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1


def test_the_new_pages_on_desktop_and_phone(live_server, page, phone_page, mailcow_sim, old_imap, settings):  # noqa: F811
    settings.MAILHERD_ALLOW_PRIVATE_TARGETS = True
    mailcow_sim.reset()
    server = MailServer.objects.create(name="sim", api_url=mailcow_sim.url, api_key=mailcow_sim.api_key,
                                       hostname="mail.provider.test")
    owner = make_user("owner@depth-e2e.test")
    organization = make_org(owner, "Depth Co", plan="business")
    plan = Plan.objects.get(slug="business")
    plan.features = [*plan.features, "custom_relay"]
    plan.save()
    relay = relay_add(actor=SYSTEM, name="resend", host="smtp.resend.com", username="resend", password="x",
                      spf_include="amazonses.com", envelope_subdomain="send",
                      envelope_mx="feedback-smtp.us-east-1.amazonses.com", dkim_selector="resend",
                      dkim_type="TXT", dkim_value="p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC")
    server_relay_set(actor=SYSTEM, server=server, relay=relay)
    verified_domain(organization, "depth.test")
    services.mailbox_create(actor=SYSTEM, organization=organization, address="jane@depth.test", quota_mb=512)
    outbox_drain()
    mailcow_sim.state.add_quarantine_item(rcpt="jane@depth.test", sender="billing@supplier.example",
                                          subject="Invoice 2026-11", score=8.2, body="Please find the invoice.")
    mailcow_sim.state.add_quarantine_item(rcpt="jane@depth.test", sender="win@prize.example",
                                          subject="You won!!!", score=24.0, virus=True)
    base = f"{live_server.url}/o/{organization.slug}"

    for device, p in (("desktop", page), ("phone", phone_page)):
        _sign_in(p, live_server, owner.email)
        p.wait_for_url(re.compile(rf".*/o/{organization.slug}/$"))

        p.goto(f"{base}/domains/depth.test/")
        assert p.get_by_text("leaves through the smarthost").is_visible()
        assert p.get_by_role("heading", name="Sending limit").is_visible()
        screenshot(p, f"h14-domain-relay-limit-{device}")
        _fits(p)

        p.goto(f"{base}/domains/depth.test/dns/")
        assert p.get_by_text("send.depth.test").first.is_visible()
        screenshot(p, f"h14-records-relay-{device}")

        p.goto(f"{base}/mailboxes/jane@depth.test/")
        assert p.get_by_text("500 per hour").first.is_visible()
        screenshot(p, f"h14-mailbox-limit-{device}")
        _fits(p)

        p.goto(f"{base}/quarantine/")
        assert p.get_by_text("Invoice 2026-11").is_visible()
        screenshot(p, f"h14-quarantine-{device}")
        _fits(p)
        p.get_by_role("link", name="Invoice 2026-11").click()
        assert p.get_by_text("Please find the invoice.").is_visible()
        screenshot(p, f"h14-quarantine-preview-{device}")
        _fits(p)

        p.goto(f"{base}/imports/")
        if device == "desktop":
            p.select_option("select[name=security]", "plain")
            p.fill("input[name=host]", "127.0.0.1")
            p.fill("input[name=port]", str(old_imap.imap_port))
            p.fill("input[name=user]", "jane@old.test")
            p.fill("input[name=password]", "wrong")
            p.get_by_role("button", name="Test sign-in and import").click()
            assert p.get_by_text("refused the user name or password").is_visible()
            screenshot(p, "h14-import-wrong-password-desktop")
            p.fill("input[name=password]", "old-secret-1")
            p.get_by_role("button", name="Test sign-in and import").click()
            assert p.get_by_text("Signed in to 127.0.0.1").is_visible()
            outbox_drain()
            job = next(iter(mailcow_sim.state.syncjobs.values()))
            mailcow_sim.state.run_syncjob(job.id, success=True, log="Transferred 128 messages in 14 folders\n")
        screenshot(p, f"h14-imports-{device}")
        _fits(p)
        p.get_by_role("link", name="jane@depth.test").first.click()
        assert p.get_by_text("Transferred 128 messages").is_visible()
        screenshot(p, f"h14-import-detail-{device}")
        _fits(p)
    assert PHONE["width"] == 390
