"""The records page in Chromium at desktop and phone width; screenshots in artifacts/screenshots/."""

import re

import pytest

from mailherd.dns.services import domain_check
from tests.conftest import PASSWORD
from tests.dns.conftest import expected, publish
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _login(page, live_server, email):  # noqa: F811
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator(".auth-card button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/o/[^/]+/$"))


@pytest.fixture
def shown_domain(make_domain, server_dns):
    """A domain that was all right, then lost its DMARC record and gained a second MX."""
    domain = make_domain("bücher-shop.test".encode("idna").decode())
    publish(server_dns, expected(domain), zone=domain.name)
    domain_check(domain=domain)
    publish(
        server_dns,
        expected(domain),
        zone=domain.name,
        skip={"dmarc"},
        replace={"mx": ["10 mail.provider.test.", "20 mx.old-host.test."]},
    )
    server_dns.delete_record(f"_dmarc.{domain.name}", "TXT", domain.name)
    return domain


def test_records_page_desktop_and_phone(live_server, page, phone_page, tenants, shown_domain):  # noqa: F811
    # One test for both widths: a second transactional test after DB tests loses the seeded plans
    # (serialized_rollback), so the phone view reuses this test's data.
    _login(page, live_server, "alice@acme.test")
    page.goto(f"{live_server.url}/o/{tenants.acme.slug}/domains/{shown_domain.name}/dns/")
    page.get_by_role("button", name="Check now").click()  # htmx swaps the table in place
    page.wait_for_selector("tr[data-key=dmarc][data-status=missing]")
    assert page.locator("tr[data-key=mx][data-status=wrong]").is_visible()
    assert page.locator("tr[data-key=spf][data-status=ok]").is_visible()
    assert page.get_by_text("mx.old-host.test").first.is_visible()
    page.reload()  # the full page also shows the alert the check opened, and the history
    assert page.get_by_role("alert").first.is_visible()
    screenshot(page, "dns-records-desktop")
    # the copy button copies the value
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator("tr[data-key=spf] .dns-value .dns-copy").click()
    page.locator("tr[data-key=spf] .dns-value .dns-copy", has_text="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == "v=spf1 mx a:mail.provider.test -all"

    # the same page at phone width
    _login(phone_page, live_server, "alice@acme.test")
    phone_page.goto(f"{live_server.url}/o/{tenants.acme.slug}/domains/{shown_domain.name}/dns/")
    phone_page.get_by_role("button", name="Check now").click()
    phone_page.wait_for_selector("tr[data-key=dmarc][data-status=missing]")
    phone_page.reload()
    screenshot(phone_page, "dns-records-phone")
    phone_page.locator("tr[data-key=mx]").scroll_into_view_if_needed()
    phone_page.screenshot(
        path=str(screenshot(phone_page, "dns-records-phone").with_name("dns-records-phone-mx.png"))
    )
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
