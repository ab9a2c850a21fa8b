"""Chromium screenshots (desktop and phone): the suspension banner at each stage, and the manual
billing pages of the portal and the back office."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailherd.billing.manual import (
    manual_invoice_create,
    manual_overdue_sweep,
    plan_request_create,
)
from mailherd.billing.models import Subscription
from mailherd.core.actors import Actor
from mailherd.hosting.services import organization_mail_restore, organization_mail_suspend
from mailherd.hosting.services.suspension import (
    organization_mail_deactivate,
    organization_mail_delete,
)
from mailherd.operator.models import Branding
from mailherd.operator.selectors import branding_cache_clear
from mailherd.tenancy.models import Membership
from tests.conftest import make_org, make_user
from tests.e2e.conftest import screenshot
from tests.operator.fixtures import with_two_factor
from tests.operator.test_browser import seeded_plans, sign_in  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def manual_mode(settings):
    settings.STRIPE_SECRET_KEY = None
    branding = Branding.objects.get_or_create(pk=1)[0]
    branding.product_name = "Northwind Mail"
    branding.support_email = "billing@northwind.test"
    branding.support_url = "https://northwind.test/help"
    branding.save()
    branding_cache_clear()
    return settings


def _stage(org, stage: str):
    system = Actor.system()
    organization_mail_restore(actor=system, organization_id=org.pk)
    by_billing = stage != "operator"
    Subscription.objects.update_or_create(
        organization=org,
        defaults={"suspended_by_billing": by_billing, "status": "past_due", "manual": True},
    )
    now = timezone.now()
    if stage in ("login_disabled", "operator"):
        organization_mail_suspend(
            actor=system, organization_id=org.pk, now=now - timedelta(days=2), reason="x"
        )
    elif stage == "deactivated":
        organization_mail_deactivate(
            actor=system, organization_id=org.pk, now=now - timedelta(days=35)
        )
    elif stage == "deletion_scheduled":
        organization_mail_deactivate(
            actor=system, organization_id=org.pk, now=now - timedelta(days=80)
        )
    elif stage == "deleted":
        organization_mail_deactivate(
            actor=system, organization_id=org.pk, now=now - timedelta(days=91)
        )
        organization_mail_delete(actor=system, organization_id=org.pk)


def test_the_suspension_banner_at_each_stage(live_server, page, phone_page, manual_mode):  # noqa: F811
    org = make_org(make_user("owner@acme.test"), "Acme")
    sign_in(page, live_server.url, "owner@acme.test")
    sign_in(phone_page, live_server.url, "owner@acme.test")
    for stage in ("login_disabled", "deactivated", "deletion_scheduled", "deleted", "operator"):
        _stage(org, stage)
        for tab, device in ((page, "desktop"), (phone_page, "phone")):
            tab.goto(f"{live_server.url}/o/{org.slug}/")
            banner = tab.locator(".suspension-banner")
            assert banner.is_visible()
            expected = "login_disabled" if stage == "operator" else stage
            assert banner.get_attribute("data-stage") == expected
            screenshot(tab, f"suspension-{stage}-{device}")


def test_manual_billing_pages(live_server, page, phone_page, browser, manual_mode):  # noqa: F811
    owner = make_user("owner@acme.test")
    org = make_org(owner, "Acme")
    membership = Membership.objects.get(organization=org, user=owner)
    ops = with_two_factor(make_user("ops@northwind.test", staff=True))
    operator = Actor.for_user(ops)
    invoice = manual_invoice_create(
        actor=operator,
        organization_id=org.pk,
        amount_cents=900,
        description="Starter, December",
        due_at=timezone.now() - timedelta(days=1),
    )
    plan_request_create(actor=Actor.for_user(owner), membership=membership, plan_slug="business")
    manual_overdue_sweep()  # the invoice was due yesterday: the dunning episode starts

    for tab, device in ((page, "desktop"), (phone_page, "phone")):
        sign_in(tab, live_server.url, "owner@acme.test")
        for name, path in (("overview", ""), ("plans", "plans/"), ("invoices", "invoices/")):
            tab.goto(f"{live_server.url}/o/{org.slug}/billing/{path}")
            screenshot(tab, f"manual-billing-{name}-{device}")
        assert "billing@northwind.test" in tab.content()

    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    sign_in(page, live_server.url, "ops@northwind.test", code_for=ops, next_url="/operator/")
    page.wait_for_url(f"{live_server.url}/operator/")
    for name, path in (
        ("plan-requests", "billing/planrequest/"),
        ("record-invoice", f"billing/invoice/manual/{org.pk}/"),
        ("record-payment", f"billing/invoice/{invoice.pk}/payment/"),
        ("invoices", "billing/invoice/"),
        ("settings", "billing/billingsettings/"),
        ("subscriptions", "billing/subscription/"),
        ("dead-letters", "billing/webhookdeadletter/"),
        ("change-plan", f"tenancy/organization/{org.pk}/change-plan/"),
        ("organization", f"tenancy/organization/{org.pk}/change/"),
        ("dashboard", ""),
    ):
        page.goto(f"{live_server.url}/operator/{path}")
        screenshot(page, f"manual-billing-operator-{name}")
    page.goto(f"{live_server.url}/operator/billing/planrequest/")
    page.locator("input[name=_selected_action]").first.check()
    page.select_option("select[name=action]", "approve_selected")
    page.get_by_role("button", name="Go").click()
    page.wait_for_selector("text=is now on Business")
    screenshot(page, "manual-billing-operator-approved")
    context.close()
