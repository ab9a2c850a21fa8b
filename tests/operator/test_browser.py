"""Chromium screenshots: the operator dashboard, an organization's detail, the portal under a brand."""

import re
from datetime import timedelta

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import hotp_value, yield_hotp_counters_from_time
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.mailcow.models import MailServer
from mailherd.notifications.models import Announcement
from mailherd.operator.models import Branding
from mailherd.tenancy.models import Organization
from tests.conftest import PASSWORD, make_org, make_user
from tests.e2e.conftest import screenshot
from tests.operator.fixtures import BRAND, with_two_factor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(autouse=True)
def seeded_plans(transactional_db):
    """The seeded plans, even when serialized_rollback did not restore them (seen on PostgreSQL
    after another transactional test in the same run)."""
    import importlib

    from mailherd.plans.models import Plan

    seed = importlib.import_module("mailherd.plans.migrations.0002_seed_plans")
    for data in seed.PLANS:
        Plan.objects.get_or_create(slug=data["slug"], defaults=data)


def totp_code(user) -> str:
    secret = (
        Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
        .wrap()
        .instance.data["secret"]
    )
    from allauth.mfa.adapter import get_adapter

    counter = next(iter(yield_hotp_counters_from_time()))
    return f"{hotp_value(get_adapter().decrypt(secret), counter):06d}"


def sign_in(tab, base, email, code_for=None, next_url="/portal/"):
    tab.goto(f"{base}/accounts/login/?next={next_url}")
    tab.fill("input[name=login]", email)
    tab.fill("input[name=password]", PASSWORD)
    tab.locator(".auth-card button[type=submit]").click()
    if code_for is not None:
        tab.wait_for_url(re.compile(r".*/accounts/2fa/authenticate/.*"))
        tab.fill("input[name=code]", totp_code(code_for))
        tab.get_by_role("button", name="Sign In").click()


def seed_customers():
    server = MailServer.objects.create(
        name="mx-eu-1",
        api_url="http://127.0.0.1:9",
        api_key="k",
        capacity_mailboxes=500,
        version="2025-03a",
        last_health_ok=True,
        last_health_at=timezone.now(),
    )
    MailServer.objects.create(
        name="mx-eu-2",
        api_url="http://127.0.0.1:9",
        api_key="k",
        capacity_mailboxes=1000,
        version="2025-03a",
        last_health_ok=False,
    )
    owners = []
    for name, plan in (
        ("Acme", "starter"),
        ("Globex", "business"),
        ("Initech", "starter"),
        ("Umbrella", "enterprise"),
    ):
        owner = make_user(f"owner@{name.lower()}.test")
        organization = make_org(owner, name, plan=plan)
        Organization.objects.filter(pk=organization.pk).update(mail_server=server)
        owners.append((owner, organization))
    Organization.objects.filter(name="Initech").update(status="suspended")
    return owners


def test_operator_dashboard_and_organization_detail(live_server, page):  # noqa: F811
    owners = seed_customers()
    ops = with_two_factor(make_user("ops@provider.test", staff=True))
    # the operator signs in with password and TOTP code through the portal's sign-in
    sign_in(page, live_server.url, "ops@provider.test", code_for=ops, next_url="/operator/")
    page.wait_for_url(re.compile(r".*/operator/$"))
    assert page.locator("#ops-organizations").is_visible()
    assert page.locator("#ops-servers").get_by_text("mx-eu-1").is_visible()
    screenshot(page, "operator-01-dashboard")

    acme = owners[0][1]
    from mailherd.hosting.services import domain_add

    domain_add(actor=Actor.for_user(owners[0][0]), organization=acme, name="acme.test")
    page.goto(f"{live_server.url}/operator/tenancy/organization/{acme.pk}/change/")
    assert page.locator("#org-usage").is_visible()
    screenshot(page, "operator-02-organization-detail")

    page.get_by_role("link", name="Change plan").click()
    page.select_option("select[name=plan]", label="Business")
    page.locator("input[type=submit]").click()
    page.wait_for_url(re.compile(rf".*/organization/{acme.pk}/change/$"))
    assert page.get_by_text("Acme is now on Business.").is_visible()

    page.goto(f"{live_server.url}/operator/view-as/{acme.pk}/")
    assert page.get_by_text("Read-only view of Acme").is_visible()
    screenshot(page, "operator-03-view-as-customer")

    page.goto(f"{live_server.url}/operator/tenancy/organization/")
    screenshot(page, "operator-04-organizations")


def test_an_operator_without_two_factor_is_sent_to_set_it_up(live_server, page):  # noqa: F811
    make_user("newops@provider.test", staff=True)
    sign_in(page, live_server.url, "newops@provider.test", next_url="/operator/")
    page.wait_for_url(re.compile(r".*/operator/$"))
    assert page.get_by_text("Ask the operator who created your account").is_visible()
    screenshot(page, "operator-05-two-factor-required")


def test_the_portal_under_a_custom_brand(live_server, page):  # noqa: F811
    Branding.objects.create(pk=1, **BRAND)
    owner = make_user("owner@acme.test")
    organization = make_org(owner, "Acme")
    Announcement.objects.create(
        title="Planned maintenance",
        body="Webmail restarts on **Sunday 02:00 UTC** — [details](https://status.nimbus.example).",
        severity="warning",
        starts_at=timezone.now() - timedelta(minutes=5),
    )
    page.goto(live_server.url + "/")
    assert "Mailherd" not in page.content()
    screenshot(page, "brand-01-landing")
    sign_in(page, live_server.url, "owner@acme.test")
    page.wait_for_url(re.compile(rf".*/o/{organization.slug}/$"))
    assert page.get_by_text("Planned maintenance").is_visible()
    assert "Mailherd" not in page.content()
    screenshot(page, "brand-02-dashboard-with-announcement")
    page.get_by_role("button", name="Dismiss Planned maintenance").click()
    page.get_by_text("Planned maintenance").wait_for(state="detached")
    page.goto(f"{live_server.url}/o/{organization.slug}/audit/")
    assert page.get_by_role("heading", name="Audit trail").is_visible()
    screenshot(page, "brand-03-audit-trail")


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_a_new_operator_enrols_through_the_set_up_link(live_server, page, phone_page, device):
    """Password → set-up link → authenticator (a wrong code first) → recovery codes → back office,
    with no second password prompt on the way."""
    from allauth.mfa.totp.internal.auth import hotp_value as value

    from mailherd.operator.services import operator_enrolment_create

    tab = page if device == "desktop" else phone_page
    lead = with_two_factor(make_user(f"lead-{device}@operator.test", staff=True))
    newbie = make_user(f"new-{device}@operator.test", staff=True)
    link = operator_enrolment_create(actor=Actor.for_user(lead), user=newbie)
    path = re.sub(r"^https?://[^/]+", "", link)
    tab.goto(f"{live_server.url}{path}")
    tab.fill("input[name=login]", newbie.email)  # not signed in: the sign-in page first
    tab.fill("input[name=password]", PASSWORD)
    tab.locator(".auth-card button[type=submit]").click()
    tab.wait_for_url(re.compile(r".*/accounts/(2fa/totp/activate|reauthenticate)/.*"))
    assert "reauthenticate" not in tab.url  # no second password prompt
    screenshot(tab, f"operator-enrol-1-activate-{device}")
    secret = tab.locator("#authenticator_secret").input_value()
    tab.fill("input[name=code]", "000000")
    tab.get_by_role("button", name="Activate").click()
    tab.wait_for_load_state()
    assert "/accounts/2fa/totp/activate/" in tab.url  # still here, the way on kept
    counter = next(iter(yield_hotp_counters_from_time()))
    tab.fill("input[name=code]", f"{value(secret, counter):06d}")
    tab.get_by_role("button", name="Activate").click()
    tab.wait_for_url(re.compile(r".*/recovery-codes/.*"))
    screenshot(tab, f"operator-enrol-2-recovery-codes-{device}")
    if device == "phone":
        assert tab.evaluate("document.documentElement.scrollWidth") <= 391
    tab.get_by_role("link", name="Continue to the back office").click()
    tab.wait_for_url(re.compile(r".*/operator/$"))
    screenshot(tab, f"operator-enrol-3-back-office-{device}")
