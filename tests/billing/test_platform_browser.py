"""Chromium screenshots (desktop and phone): a platform address in the organization's mailbox list and
on its page, and the sign-up form asking for the username."""

import pytest

from mailherd.billing.models import Subscription
from mailherd.core.actors import Actor
from mailherd.hosting.services.platform import platform_domain_set, platform_mailboxes_ensure
from tests.conftest import make_org, make_user
from tests.e2e.conftest import screenshot
from tests.hosting.conftest import verified_domain
from tests.operator.test_browser import seeded_plans, sign_in  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def acme_with_platform_address(seeded_plans):  # noqa: F811
    operator_org = make_org(make_user("postmaster@operator.test"), "Operator")
    verified_domain(operator_org, "members.test")
    platform_domain_set(actor=Actor.system(), name="members.test")
    alice = make_user("alice@acme.test")
    alice.full_name = "Alice Martin"
    alice.save()
    acme = make_org(alice, "Acme")
    Subscription.objects.create(organization=acme, status=Subscription.Status.ACTIVE)
    [mailbox] = platform_mailboxes_ensure(organization=acme)
    return acme, mailbox


@pytest.mark.parametrize("device", ["page", "phone_page"])
def test_the_platform_address_is_marked_in_the_list_and_on_its_page(
    request, live_server, acme_with_platform_address, device
):
    tab = request.getfixturevalue(device)
    acme, mailbox = acme_with_platform_address
    sign_in(tab, live_server.url, "alice@acme.test")
    tab.goto(f"{live_server.url}/o/{acme.slug}/mailboxes/")
    assert tab.get_by_text("Platform address").first.is_visible()
    screenshot(tab, f"platform-mailbox-list-{device}")
    tab.goto(f"{live_server.url}/o/{acme.slug}/mailboxes/{mailbox.address}/")
    assert tab.get_by_text("not counted in your plan").is_visible()
    assert tab.get_by_role("button", name="Delete mailbox").count() == 0
    # nor a "used by" choice the service would refuse: it stays its member's
    assert tab.get_by_text("always belongs to the member it was given to").is_visible()
    assert tab.locator("#webmail-card form").count() == 0
    assert tab.get_by_label("Storage (MiB)").is_disabled()
    tab.get_by_label("Display name").fill("Alice at the platform")
    tab.get_by_role("button", name="Save", exact=True).last.click()
    assert tab.get_by_text("Mailbox saved.").is_visible()  # the rest of the form still saves
    screenshot(tab, f"platform-mailbox-detail-{device}")
    tab.context.clear_cookies()
    tab.goto(f"{live_server.url}/accounts/signup/")
    assert tab.get_by_text("@members.test").is_visible()
    screenshot(tab, f"platform-signup-{device}")
