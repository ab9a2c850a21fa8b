"""A customer registers a webhook endpoint, copies its secret, sends a test event and reads the
log; and creates a read-only API token. In Chromium, desktop and phone."""

import re

import pytest

from mailherd.webhooks.delivery import deliveries_run
from tests.conftest import PASSWORD, make_org, make_user
from tests.e2e.conftest import screenshot
from tests.webhooks.conftest import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _sign_in(page, live_server, email):
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator(".auth-card button[type=submit]").click()


def test_webhook_endpoint_and_token_pages(live_server, page, phone_page, settings):
    settings.MAILHERD_ALLOW_PRIVATE_TARGETS = True
    receiver = Receiver()
    try:
        owner = make_user("owner@hooks-e2e.test")
        organization = make_org(owner, "Hooks Co")
        _sign_in(page, live_server, owner.email)
        page.wait_for_url(re.compile(rf".*/o/{organization.slug}/$"))
        page.get_by_role("link", name="Webhooks").click()
        page.fill("input[name=url]", receiver.url)
        page.fill("input[name=description]", "CRM sync")
        page.get_by_label(re.compile(r"mailbox\.created —")).check()
        page.get_by_label(re.compile(r"domain\.verified —")).check()
        page.get_by_role("button", name="Add endpoint").click()
        secret = page.locator("#new-secret").inner_text()
        assert secret.startswith("whsec_")
        assert page.get_by_role("button", name="Copy the signing secret").is_visible()
        receiver.secret = secret
        page.get_by_role("button", name="Send test event").click()
        deliveries_run()
        page.reload()
        assert page.get_by_text("webhook.test").is_visible()
        assert page.get_by_text("delivered").first.is_visible()
        assert [e["type"] for e in receiver.received] == ["webhook.test"]
        screenshot(page, "webhook-endpoint-desktop")

        page.get_by_role("link", name="API tokens").click()
        page.fill("input[name=name]", "reporting")
        page.get_by_label("Read only").check()
        page.get_by_role("button", name="Create token").click()
        assert page.locator("#new-token").inner_text().startswith("mh_")
        assert page.get_by_text("Read only").first.is_visible()
        screenshot(page, "api-tokens-desktop")

        _sign_in(phone_page, live_server, owner.email)
        phone_page.goto(f"{live_server.url}/o/{organization.slug}/webhooks/")
        screenshot(phone_page, "webhooks-phone")
        phone_page.get_by_role("link", name=receiver.url).click()
        screenshot(phone_page, "webhook-endpoint-phone")
    finally:
        receiver.close()
