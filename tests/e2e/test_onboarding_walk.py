"""A new customer, in Chromium, from the landing page to a working first mailbox, doing only
what the pages say: sign up, verify the email, add the domain, publish the TXT record the page
shows (in PowerDNS), verify, publish every record the page lists, check them, create a mailbox,
and find how to connect a mail client. The dashboard's checklist is followed at each step.
"""

import re

import pytest
from django.core import mail

from mailherd.hosting.provisioning import outbox_drain
from mailherd.mailcow.models import MailServer
from mailherd.mailcow.services import client_for
from tests.conftest import PASSWORD
from tests.dns.conftest import SERVER_ADDRESS
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

DOMAIN = "walk-in.test"


def _checklist(page) -> dict[str, str]:
    page.wait_for_selector("#onboarding")
    return {
        item.get_attribute("data-step"): item.get_attribute("data-done")
        for item in page.locator("#onboarding li").all()
    }


def _publish_rows_from_page(page, pdns) -> int:
    """Type every record the page lists into the DNS server, as a customer copies them over."""
    rrsets: dict[tuple[str, str], list[str]] = {}
    for row in page.locator("tr.dns-row").all():
        copies = row.locator(".dns-copy")
        if copies.count() == 0:  # informational rows (reverse DNS): nothing to publish
            continue
        rtype = row.locator(".dns-type strong").inner_text().strip()
        name = row.locator(".dns-full .dns-copy").get_attribute("data-copy")
        value = row.locator(".dns-value .dns-copy").get_attribute("data-copy")
        priority = row.locator("td[data-label=Priority]").inner_text().strip()
        if rtype == "TXT":
            content = value
        else:
            head, _, host = value.rpartition(" ")
            host = host.rstrip(".") + "."
            content = " ".join(part for part in (priority, head, host) if part)
        rrsets.setdefault((name, rtype), []).append(content)
    for (name, rtype), contents in rrsets.items():
        pdns.set_record(DOMAIN, name, rtype, contents)
    return len(rrsets)


def test_a_new_customer_gets_to_a_working_mailbox_from_what_the_pages_say(
    live_server, page, mailcow_sim, dns_nameserver
):
    mailcow_sim.reset()
    MailServer.objects.create(
        name="sim",
        api_url=mailcow_sim.url,
        api_key=mailcow_sim.api_key,
        hostname="mail.provider.test",
        imap_host="imap.provider.test",
        smtp_host="smtp.provider.test",
        webmail_url="https://mail.provider.test/SOGo",
    )
    # the operator's own DNS: the mail server's name and reverse name
    dns_nameserver.create_zone("provider.test")
    dns_nameserver.set_record("provider.test", "mail.provider.test", "A", [SERVER_ADDRESS])
    dns_nameserver.create_zone("2.0.192.in-addr.arpa")
    dns_nameserver.set_record(
        "2.0.192.in-addr.arpa", "25.2.0.192.in-addr.arpa", "PTR", ["mail.provider.test."]
    )
    dns_nameserver.create_zone(DOMAIN)  # the customer's DNS provider

    # landing page → sign up → the emailed link → the organization
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Create your account").click()
    page.fill("input[name=email]", "founder@walk-in.test")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.locator(".auth-card button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/accounts/confirm-email/$"))
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[-1].body).group(0)
    page.goto(live_server.url + "/accounts/" + link.split("/accounts/", 1)[1])
    page.locator(".auth-card button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/portal/new-organization/$"))
    page.fill("input[name=name]", "Walk In Ltd")
    page.locator(".auth-card button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/o/walk-in-ltd/$"))
    assert set(_checklist(page).values()) == {"no"}
    screenshot(page, "walk-01-dashboard-checklist")

    # the checklist's first step: add the domain
    page.locator("#onboarding").get_by_role("link", name="Add a domain").click()
    page.fill("input[name=name]", "not a domain")
    page.get_by_role("button", name="Add domain").click()
    assert (
        page.locator(".field.has-error .error").inner_text()
        == "A domain name cannot contain spaces."
    )
    page.fill("input[name=name]", DOMAIN)
    page.get_by_role("button", name="Add domain").click()
    page.wait_for_url(re.compile(rf".*/domains/{re.escape(DOMAIN)}/$"))
    screenshot(page, "walk-02-domain-added")

    # the TXT record, read off the page, published, then "Verify now"
    step1 = page.locator("#verify")
    host = step1.locator(".dns-full .dns-copy").get_attribute("data-copy")
    value = step1.locator(".dns-value .dns-copy").get_attribute("data-copy")
    page.get_by_role("button", name="Verify now").click()
    assert page.get_by_text(
        f"There is no TXT record at {host} yet."
    ).is_visible()  # too early: said once
    dns_nameserver.set_record(DOMAIN, host, "TXT", [value])
    page.get_by_role("button", name="Verify now").click()
    assert page.get_by_text(f"{DOMAIN} is verified.").is_visible()
    outbox_drain()  # the worker puts the domain on the mail server
    page.goto(f"{live_server.url}/o/walk-in-ltd/")
    steps = _checklist(page)
    assert (steps["domain"], steps["txt"], steps["verified"], steps["records"]) == (
        "yes",
        "yes",
        "yes",
        "no",
    )
    screenshot(page, "walk-03-dashboard-verified")

    # the checklist leads to the records; each is published as listed, then checked
    page.locator("#onboarding").get_by_role("link", name="Show the records").click()
    page.wait_for_selector("tr.dns-row[data-key=mx]")
    assert _publish_rows_from_page(page, dns_nameserver) >= 5
    page.get_by_role("button", name="Check now").click()
    page.wait_for_selector("tr[data-key=mx][data-status=ok]")
    assert (
        page.locator("tr.dns-row[data-status=missing], tr.dns-row[data-status=wrong]").count() == 0
    )
    screenshot(page, "walk-04-records-ok")

    # the first mailbox, from the checklist
    page.goto(f"{live_server.url}/o/walk-in-ltd/")
    assert _checklist(page)["records"] == "yes"
    page.locator("#onboarding").get_by_role("link", name="New mailbox").click()
    page.fill("input[name=local_part]", "")
    page.get_by_role("button", name="Create mailbox").click()
    assert (
        page.locator(".field.has-error .error").inner_text()
        == "Enter the part of the address before the @."
    )
    page.fill("input[name=local_part]", "founder")
    page.fill("input[name=name]", "The Founder")
    page.get_by_role("button", name="Create mailbox").click()
    page.wait_for_url(re.compile(rf".*/mailboxes/founder@{re.escape(DOMAIN)}/$"))
    assert page.locator("#new-password").inner_text().strip()
    outbox_drain()
    mailcow = client_for(MailServer.objects.get())
    assert [m.address for m in mailcow.list_mailboxes(DOMAIN)] == [f"founder@{DOMAIN}"]

    # the last step points at the connection details and the set-up file
    page.goto(f"{live_server.url}/o/walk-in-ltd/")
    assert _checklist(page)["mailbox"] == "yes"
    page.locator("#onboarding").get_by_role(
        "link", name="Connection details and set-up file"
    ).click()
    assert page.get_by_text("imap.provider.test").first.is_visible()
    setup = page.get_by_role("link", name="Set-up profile for iPhone, iPad and Mac")
    profile = page.request.get(live_server.url + setup.get_attribute("href"))
    assert profile.ok and "imap.provider.test" in profile.text()
    screenshot(page, "walk-05-connect-a-client")
