"""The senders page in Chromium at desktop and phone width; screenshots in artifacts/screenshots/."""

import random
import re

import pytest
from django.utils import timezone

from mailherd.deliverability.models import SourceName
from tests.conftest import PASSWORD
from tests.deliverability.conftest import ingest, ingest_days
from tests.deliverability.reports import Row, gzipped, tls_json
from tests.e2e.conftest import screenshot
from tests.hosting.conftest import verified_domain

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SOURCES = {
    "192.0.2.10": ("mail.provider.test", "provider.test", "provider.test"),
    "209.85.220.41": (
        "mail-sor-f41.google.com",
        "google.com",
        "Google (Including Gmail and Google Workspace)",
    ),
    "209.85.220.69": (
        "mail-sor-f69.google.com",
        "google.com",
        "Google (Including Gmail and Google Workspace)",
    ),
    "167.89.100.12": ("o1.ptr4821.sendgrid.net", "sendgrid.net", "Twilio SendGrid"),
    "203.0.113.77": ("", "", ""),
}


def _login(page, live_server):
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", "alice@acme.test")
    page.fill("input[name=password]", PASSWORD)
    page.locator(".auth-card button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/o/[^/]+/$"))


def test_senders_page_desktop_and_phone(live_server, page, phone_page, tenants):
    domain = verified_domain(tenants.acme, "acme.test")
    rng = random.Random(16)

    def rows(day):
        weekend = day.weekday() >= 5
        base = 40 if weekend else 260
        return [
            Row("192.0.2.10", base + rng.randint(0, 40)),
            Row("209.85.220.41", base // 4 + rng.randint(0, 10)),
            Row("209.85.220.69", base // 8 + rng.randint(0, 5), spf=False),
            Row("167.89.100.12", 0 if weekend else 80 + rng.randint(0, 30), spf=False, dkim=False),
            Row("203.0.113.77", rng.randint(0, 3), spf=False, dkim=False),
        ]

    ingest_days(domain, days=30, rows_for_day=rows)
    ingest(
        domain,
        gzipped(tls_json(domain="acme.test", day=timezone.now().date(), successful=940, failed=12)),
    )
    for ip, (name, base, org) in SOURCES.items():
        SourceName.objects.create(
            ip=ip, name=name, base_domain=base, organization_name=org, looked_up_at=timezone.now()
        )

    url = f"{live_server.url}/o/{tenants.acme.slug}/domains/acme.test/deliverability/"
    _login(page, live_server)
    page.goto(url)
    assert page.get_by_role("img", name="Messages per day: passed and failed DMARC").is_visible()
    assert page.get_by_text("Twilio SendGrid").is_visible()
    assert page.get_by_text(
        "would hurt mail from 167.89.100.12 (o1.ptr4821.sendgrid.net)"
    ).is_visible()
    screenshot(page, "deliverability-desktop")

    _login(phone_page, live_server)
    phone_page.goto(url)
    screenshot(phone_page, "deliverability-phone")
    shots = screenshot(phone_page, "deliverability-phone").parent
    phone_page.screenshot(path=str(shots / "deliverability-phone-top.png"))
    phone_page.get_by_role("heading", name="Sending sources").scroll_into_view_if_needed()
    phone_page.screenshot(path=str(shots / "deliverability-phone-sources.png"))
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
