"""Subscribing in Chromium with localstripe's stand-in for Stripe.js; screenshots on desktop and phone."""

import re

import pytest
from django.test import Client

from mailherd.billing.models import Subscription
from tests.billing.conftest import FAILS_ON_CHARGE, add_card, post_event
from tests.billing.test_dunning import _renewal_fails
from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PHONE_WIDTH = 390


def _login(tab, live_server, email):
    tab.goto(live_server.url + "/accounts/login/")
    tab.fill("input[name=login]", email)
    tab.fill("input[name=password]", PASSWORD)
    tab.locator(".auth-card button[type=submit]").click()
    tab.wait_for_url(re.compile(r".*/o/[\w-]+/$"))


def _fill_card(tab, number: str):
    """localstripe's card element: plain inputs named by placeholder."""
    card = tab.locator("#card-element")
    card.locator("input[placeholder=number]").fill(number)
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("34")
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill("10115")


def test_subscribe_with_a_card_in_the_browser(localstripe, tenants, live_server, page):  # noqa: F811
    base = f"{live_server.url}/o/{tenants.acme.slug}/billing/"
    _login(page, live_server, tenants.alice.email)

    page.goto(base)
    assert page.get_by_role("heading", name="Billing").is_visible()
    screenshot(page, "billing-01-overview-no-subscription")

    page.goto(base + "plans/")
    screenshot(page, "billing-02-plans")
    page.get_by_role("button", name="Choose Enterprise").click()
    page.wait_for_url(re.compile(r".*/billing/card/\?plan=enterprise$"))
    page.wait_for_selector("#card-element input[placeholder=number]")

    # a card declined when saved: the error shows, nothing changes
    _fill_card(page, "4000000000000002")
    page.get_by_role("button", name="Subscribe").click()
    # (wait_for_function would evaluate a string: the page's CSP rightly forbids that)
    page.locator("#card-errors").filter(has_text=re.compile(r"\S")).wait_for()
    assert "declined" in page.locator("#card-errors").text_content().lower()
    screenshot(page, "billing-03-card-declined")

    page.goto(base + "card/?plan=enterprise")
    page.wait_for_selector("#card-element input[placeholder=number]")
    _fill_card(page, "4242424242424242")
    screenshot(page, "billing-04-card-form")
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_url(re.compile(r".*/billing/$"))

    assert page.get_by_text("Subscribed to Enterprise").is_visible()
    assert page.get_by_text("•••• 4242").is_visible()
    screenshot(page, "billing-05-overview-active")
    tenants.acme.refresh_from_db()
    assert tenants.acme.plan.slug == "enterprise"

    page.goto(base + "invoices/")
    assert page.get_by_text("199.00 USD").is_visible()
    screenshot(page, "billing-06-invoices")

    page.goto(base + "plans/")
    screenshot(page, "billing-07-plans-current")


def test_billing_pages_on_a_phone_including_an_overdue_account(
    localstripe,
    tenants,
    live_server,
    phone_page,  # noqa: F811
):
    from tests.billing.conftest import subscribe

    subscribe(tenants.acme, "enterprise")
    _login(phone_page, live_server, tenants.alice.email)
    base = f"{live_server.url}/o/{tenants.acme.slug}/billing/"
    for path, name in (
        ("", "overview"),
        ("plans/", "plans"),
        ("invoices/", "invoices"),
        ("card/", "card"),
    ):
        phone_page.goto(base + path)
        screenshot(phone_page, f"billing-phone-{name}")
        assert phone_page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH + 1, path

    # the renewal fails: the overview says so, with the way out
    add_card(tenants.acme, FAILS_ON_CHARGE)
    subscription = Subscription.objects.get()
    invoice_id = _renewal_fails(subscription)
    post_event(
        Client(),
        "invoice.payment_failed",
        {"id": invoice_id, "object": "invoice", "customer": subscription.stripe_customer_id},
    )
    phone_page.goto(base)
    assert phone_page.get_by_text("Your last payment failed.").is_visible()
    assert phone_page.get_by_role("link", name="Update card").first.is_visible()
    screenshot(phone_page, "billing-phone-overdue")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH + 1
