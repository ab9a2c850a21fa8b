"""The back office reads like a product: names, filters, money, what is hidden, confirmations."""

import pytest

from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.models import ProvisioningOp
from mailherd.tenancy.models import Organization
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db


def test_the_index_uses_proper_names_and_hides_celery_and_groups(ops_client):
    html = ops_client.get("/operator/").content.decode()
    for label in (
        "Mailboxes",
        "Feature switches",
        "DNS pushes",
        "API tokens",
        "DNS checks",
        "Outbox rows",
    ):
        assert f">{label}<" in html, label
    for wrong in (
        "Mailboxs",
        "switchs",
        "Dns pushs",
        "Api tokens",
        "Dns checks",
        "Solar events",
        "Periodic tasks",
        ">Groups<",
    ):
        assert wrong not in html, wrong
    assert ops_client.get("/operator/django_celery_beat/periodictask/").status_code == 404
    assert ops_client.get("/operator/auth/group/").status_code == 404


def test_the_schedule_is_shown_read_only(ops_client):
    html = ops_client.get("/operator/").content.decode()
    assert 'id="ops-schedule"' in html
    assert "outbox-maintenance" in html and "every 15 seconds" in html and "every hour" in html


def test_filters_have_distinct_titles(ops_client, tenants):
    html = ops_client.get("/operator/tenancy/organization/").content.decode()
    assert html.count("By status") == 1 and "By subscription status" in html


def test_plan_prices_are_money_not_cents(ops_client):
    listing = ops_client.get("/operator/plans/plan/").content.decode()
    assert "9.00 USD" in listing and ">900<" not in listing and "10 GiB" in listing
    from mailherd.plans.models import Plan

    form = ops_client.get(
        f"/operator/plans/plan/{Plan.objects.get(slug='starter').pk}/change/"
    ).content.decode()
    assert (
        'name="monthly_price"' in form
        and 'value="9.00"' in form
        and "price_monthly_cents" not in form
    )


def test_the_outbox_lists_the_newest_first(ops_client, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    for name in ("first", "second"):
        services.mailbox_create(
            actor=Actor.system(),
            organization=tenants.acme,
            address=f"{name}@acme.test",
            quota_mb=10,
        )
    html = ops_client.get("/operator/hosting/provisioningop/").content.decode()
    assert html.index("mailbox:second@acme.test") < html.index("mailbox:first@acme.test")


def test_an_organizations_page_pages_its_mailboxes(ops_client, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    for number in range(10):
        services.mailbox_create(
            actor=Actor.system(),
            organization=tenants.acme,
            address=f"u{number:02}@acme.test",
            quota_mb=10,
        )
    from mailherd.tenancy import admin as tenancy_admin

    page_size, tenancy_admin.ORGANIZATION_PAGE_SIZE = tenancy_admin.ORGANIZATION_PAGE_SIZE, 4
    try:
        url = f"/operator/tenancy/organization/{tenants.acme.pk}/change/"
        first = ops_client.get(url).content.decode()
        assert (
            "Mailboxes (10)" in first and "u03@acme.test" in first and "u04@acme.test" not in first
        )
        assert "1–4 of 10" in first and "?mailboxes_page=2#org-mailboxes" in first
        second = ops_client.get(url + "?mailboxes_page=2").content.decode()
        assert "u04@acme.test" in second and "u03@acme.test" not in second
    finally:
        tenancy_admin.ORGANIZATION_PAGE_SIZE = page_size


def test_feature_switch_list_shows_every_switch(ops_client):
    html = ops_client.get("/operator/operator/featureswitch/").content.decode()
    assert "email_hosting" in html and "0 feature switches" not in html


def test_an_announcement_starts_now_by_default(ops_client):
    html = ops_client.get("/operator/notifications/announcement/add/").content.decode()
    import re

    assert re.search(r'name="starts_at_0"[^>]*value="\d{4}-\d{2}-\d{2}"', html)


def test_bulk_suspend_asks_first_and_says_what_happens(ops_client, tenants):
    data = {"action": "suspend_selected", "_selected_action": [tenants.acme.pk]}
    from html import unescape

    page = ops_client.post("/operator/tenancy/organization/", data)
    html = unescape(page.content.decode())
    assert page.status_code == 200 and "Suspend these organizations?" in html
    assert "refuse sign-ins" in html and "still received and kept" in html
    tenants.acme.refresh_from_db()
    assert tenants.acme.status == "active"  # nothing happened yet
    ops_client.post("/operator/tenancy/organization/", {**data, "confirmed": "yes"})
    tenants.acme.refresh_from_db()
    assert tenants.acme.status == Organization.Status.SUSPENDED


def test_discarding_outbox_rows_asks_first(ops_client, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(
        actor=Actor.system(), organization=tenants.acme, address="x@acme.test", quota_mb=10
    )
    op = ProvisioningOp.objects.get(object_key="mailbox:x@acme.test")
    ProvisioningOp.objects.filter(pk=op.pk).update(status="failed", last_error="boom")
    data = {"action": "discard", "_selected_action": [op.pk]}
    html = ops_client.post("/operator/hosting/provisioningop/", data).content.decode()
    assert "Discard these outbox rows?" in html and "never applied" in html
    op.refresh_from_db()
    assert op.status == "failed"
    ops_client.post("/operator/hosting/provisioningop/", {**data, "confirmed": "yes"})
    op.refresh_from_db()
    assert op.status == "done"


def test_the_suspend_page_says_what_happens_on_mailcow(ops_client, tenants):
    from html import unescape

    html = unescape(
        ops_client.get(
            f"/operator/tenancy/organization/{tenants.acme.pk}/suspend/"
        ).content.decode()
    )
    assert "Mailcow: the organization's mailboxes are set to refuse sign-ins" in html
    assert "No, go back" in html
