"""Every portal and back-office page, desktop and phone, as screenshots to look at.

Names: artifacts/screenshots/tour-<page>-<desktop|phone>.png. Each page must also fit its screen.
"""

import re

import pytest
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services import alias_create, domain_add, mailbox_create
from mailherd.hosting.services.domains import _domain_claim
from mailherd.mailcow.models import MailServer
from tests.conftest import PASSWORD, make_org, make_user
from tests.e2e.conftest import screenshot
from tests.operator.fixtures import with_two_factor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _sign_in(tab, base, email, next_url="/portal/"):
    tab.goto(f"{base}/accounts/login/?next={next_url}")
    tab.fill("input[name=login]", email)
    tab.fill("input[name=password]", PASSWORD)
    tab.locator(".auth-card button[type=submit]").click()
    tab.wait_for_load_state()


TOO_WIDE: list[str] = []


def _snap(pages, url, name):
    for label, tab in pages.items():
        tab.goto(url)
        screenshot(tab, f"tour-{name}-{label}")
        width = 390 if label == "phone" else 1280
        if tab.evaluate("document.documentElement.scrollWidth") > width + 1:
            TOO_WIDE.append(f"{name}-{label}")


def _customer(mailcow_sim):
    mailcow_sim.reset()
    server = MailServer.objects.create(
        name="sim",
        api_url=mailcow_sim.url,
        api_key=mailcow_sim.api_key,
        hostname="mail.provider.test",
        imap_host="imap.provider.test",
        smtp_host="smtp.provider.test",
        webmail_url="https://mail.provider.test/SOGo",
    )
    owner = make_user("owner@tour.test")
    organization = make_org(owner, "Tour Co")
    actor = Actor.for_user(owner)
    domain_add(actor=actor, organization=organization, name="waiting-for-dns.test")
    domain = domain_add(actor=actor, organization=organization, name="tour.test")
    _domain_claim(actor=actor, domain_id=domain.pk, now=timezone.now())
    for number in range(10):
        mailbox_create(
            actor=actor,
            organization=organization,
            address=f"person{number}@tour.test",
            quota_mb=1024,
        )
    alias_create(
        actor=actor,
        organization=organization,
        address="sales@tour.test",
        goto=["person1@tour.test"],
    )
    outbox_drain()
    return server, owner, organization


def test_customer_pages(live_server, page, phone_page, mailcow_sim):  # noqa: F811
    _server, owner, organization = _customer(mailcow_sim)
    pages = {"desktop": page, "phone": phone_page}
    base = live_server.url
    _snap(pages, base + "/", "landing")
    _snap(pages, base + "/accounts/signup/", "signup")
    _snap(pages, base + "/accounts/login/", "login")
    for tab in pages.values():
        _sign_in(tab, base, owner.email)
    org = f"{base}/o/{organization.slug}"
    for path, name in (
        ("/", "dashboard"),
        ("/domains/", "domains"),
        ("/domains/waiting-for-dns.test/", "domain-unverified"),
        ("/domains/tour.test/", "domain-active"),
        ("/domains/tour.test/dns/", "dns-records"),
        ("/mailboxes/", "mailboxes"),
        ("/mailboxes/new/", "mailbox-new"),
        ("/mailboxes/person1@tour.test/", "mailbox-detail"),
        ("/aliases/", "aliases"),
        ("/aliases/sales@tour.test/", "alias-detail"),
        ("/members/", "members"),
        ("/settings/", "settings"),
        ("/api-tokens/", "api-tokens"),
        ("/billing/", "billing"),
        ("/billing/plans/", "billing-plans"),
    ):
        _snap(pages, org + path, name)
    # a failed verification
    for tab in pages.values():
        tab.goto(org + "/domains/waiting-for-dns.test/")
        tab.get_by_role("button", name=re.compile("Verify")).first.click()
        tab.wait_for_load_state()
    for label, tab in pages.items():
        screenshot(tab, f"tour-domain-verify-failed-{label}")
    _snap(pages, base + "/o/nobody-here/", "404")
    assert not TOO_WIDE


def test_operator_pages(live_server, page, phone_page, mailcow_sim):  # noqa: F811
    from tests.operator.test_browser import sign_in

    _server, _owner, organization = _customer(mailcow_sim)
    pages = {"desktop": page, "phone": phone_page}
    base = live_server.url
    for label, tab in pages.items():
        # one operator per tab: a TOTP code is refused the second time
        ops = with_two_factor(make_user(f"ops-{label}@provider.test", staff=True))
        sign_in(tab, base, ops.email, code_for=ops, next_url="/operator/")
        tab.wait_for_url(re.compile(r".*/operator/$"))
    for path, name in (
        ("/operator/", "ops-dashboard"),
        ("/operator/tenancy/organization/", "ops-organizations"),
        (f"/operator/tenancy/organization/{organization.pk}/change/", "ops-organization"),
        ("/operator/hosting/mailbox/", "ops-mailboxes"),
        ("/operator/hosting/provisioningop/", "ops-outbox"),
        ("/operator/plans/plan/", "ops-plans"),
    ):
        _snap(pages, base + path, name)
