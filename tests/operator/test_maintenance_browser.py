"""Chromium: the maintenance page while email hosting is switched off, on a desktop and a phone."""

import pytest

from mailherd.core.actors import Actor
from mailherd.operator.services import feature_switch_set
from tests.conftest import make_org, make_user
from tests.e2e.conftest import screenshot
from tests.operator.test_browser import seeded_plans, sign_in  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_the_maintenance_page_on_desktop_and_phone(live_server, page, phone_page):
    owner = make_user("owner@acme.test")
    organization = make_org(owner, "Acme")
    feature_switch_set(actor=Actor.system(), name="email_hosting", enabled=False)
    for tab, device in ((page, "desktop"), (phone_page, "phone")):
        sign_in(tab, live_server.url, "owner@acme.test")
        response = tab.goto(f"{live_server.url}/o/{organization.slug}/mailboxes/")
        assert response.status == 503
        assert tab.get_by_role(
            "heading", name="Email hosting is paused for maintenance"
        ).is_visible()
        assert tab.locator(".sidenav").get_by_text("Mailboxes").count() == 0
        screenshot(tab, f"maintenance-{device}")
    feature_switch_set(actor=Actor.system(), name="email_hosting", enabled=True)
