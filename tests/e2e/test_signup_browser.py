"""A person signs up in Chromium and reaches their dashboard; screenshots are saved."""

import re

import pytest
from django.core import mail

from tests.conftest import PASSWORD, make_org, make_user
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_sign_up_to_dashboard_in_chromium(live_server, page):
    page.goto(live_server.url + "/")
    screenshot(page, "01-landing")
    page.get_by_role("link", name="Create your account").click()
    page.fill("input[name=email]", "founder@newco.test")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    screenshot(page, "02-signup")
    page.locator(".auth-card button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/accounts/confirm-email/$"))
    screenshot(page, "03-verify-email-sent")

    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[-1].body).group(0)
    page.goto(live_server.url + "/accounts/" + link.split("/accounts/", 1)[1])
    page.locator(".auth-card button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/portal/new-organization/$"))
    page.fill("input[name=name]", "")
    page.locator(".auth-card button[type=submit]").click()
    assert page.get_by_text("Give your organization a name.").is_visible()
    page.fill("input[name=name]", "NewCo Ltd")
    screenshot(page, "04-create-organization")
    page.locator(".auth-card button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/o/newco-ltd/$"))
    assert page.get_by_role("heading", name="NewCo Ltd").is_visible()
    assert page.get_by_text("Starter").first.is_visible()
    screenshot(page, "05-dashboard")


def test_portal_pages_on_a_phone(live_server, phone_page, db):
    owner = make_user("phone@newco.test")
    organization = make_org(owner, "Phone Co")
    phone_page.goto(live_server.url + "/accounts/login/")
    phone_page.fill("input[name=login]", "phone@newco.test")
    phone_page.fill("input[name=password]", PASSWORD)
    phone_page.locator(".auth-card button[type=submit]").click()
    phone_page.wait_for_url(re.compile(rf".*/o/{organization.slug}/$"))
    screenshot(phone_page, "06-phone-dashboard")
    for path, name in (("members/", "07-phone-members"), ("api-tokens/", "08-phone-api-tokens")):
        phone_page.goto(f"{live_server.url}/o/{organization.slug}/{path}")
        screenshot(phone_page, name)
        # nothing wider than the screen
        assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    phone_page.goto(live_server.url + "/")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    screenshot(phone_page, "09-phone-landing")
