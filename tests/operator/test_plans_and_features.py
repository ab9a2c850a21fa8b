import pytest

from mailherd.core.models import AuditEvent
from mailherd.operator.selectors import feature_enabled, feature_require
from mailherd.plans.models import Plan

pytestmark = pytest.mark.django_db

PLANS = "/operator/plans/plan/"


def test_a_plan_in_use_cannot_be_deleted(ops_client, tenants):
    starter = Plan.objects.get(slug="starter")
    response = ops_client.get(f"{PLANS}{starter.pk}/delete/")
    assert response.status_code == 403
    assert ops_client.post(f"{PLANS}{starter.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Plan.objects.filter(pk=starter.pk).exists()
    assert (
        b"retire it instead of deleting" in ops_client.get(f"{PLANS}{starter.pk}/change/").content
    )


def test_bulk_delete_is_not_offered(ops_client, tenants):
    response = ops_client.get(PLANS)
    assert b'value="delete_selected"' not in response.content


def test_an_unused_plan_can_be_deleted(ops_client, tenants):
    spare = Plan.objects.create(
        slug="spare", name="Spare", max_domains=1, max_mailboxes=1, max_aliases=1, max_storage_mb=1
    )
    ops_client.post(f"{PLANS}{spare.pk}/delete/", {"post": "yes"})
    assert not Plan.objects.filter(pk=spare.pk).exists()


def test_a_plan_in_use_can_be_retired_and_sold_again(ops_client, tenants):
    starter = Plan.objects.get(slug="starter")
    ops_client.post(PLANS, {"action": "retire_selected", "_selected_action": [starter.pk]})
    starter.refresh_from_db()
    assert starter.is_retired
    assert (
        b"Starter" not in ops_client.get("/").content.split(b'id="plans"')[1]
    )  # not sold on the landing page
    assert tenants.acme.plan.slug == "starter"  # customers keep it
    ops_client.post(PLANS, {"action": "unretire_selected", "_selected_action": [starter.pk]})
    starter.refresh_from_db()
    assert not starter.is_retired
    assert list(
        AuditEvent.objects.filter(action__startswith="plan.")
        .values_list("action", flat=True)
        .order_by("pk")
    ) == [
        "plan.retire",
        "plan.unretire",
    ]


def test_plan_limits_prices_features_visibility_and_order_are_editable(ops_client, tenants):
    plan = Plan.objects.get(slug="starter")
    data = {
        "name": "Starter",
        "slug": "starter",
        "description": "",
        "sort_order": 7,
        "monthly_price": "12.00",  # typed in the currency, kept in cents
        "yearly_price": "120",
        "currency": "eur",
        "trial_days": 14,
        "max_domains": 4,
        "max_mailboxes": 12,
        "max_aliases": 40,
        "max_storage_mb": 20480,
        "mailbox_rate_limit": 0,
        "mailbox_rate_frame": "h",
        "domain_rate_limit": 0,
        "domain_rate_frame": "h",
        "features": ["api", "catch_all"],
        "is_public": "",
        "stripe_product_id": "",
        "stripe_price_id": "",
    }
    response = ops_client.post(f"{PLANS}{plan.pk}/change/", data)
    assert response.status_code == 302, response.content
    plan.refresh_from_db()
    assert (plan.max_domains, plan.price_monthly_cents, plan.sort_order, plan.is_public) == (
        4,
        1200,
        7,
        False,
    )
    assert plan.features == ["api", "catch_all"]


# --- feature flags --------------------------------------------------------------------------


def test_email_hosting_is_on_until_switched_off(ops_client, tenants):
    assert feature_enabled("email_hosting") and feature_enabled("email_hosting", tenants.acme)
    # when an operator turns it off on the dashboard (and confirms)
    response = ops_client.post("/operator/switches/email_hosting/", {"confirmed": "yes"})
    assert response.status_code == 302
    # then it is off for everyone, at once
    assert not feature_enabled("email_hosting")
    assert not feature_enabled("email_hosting", tenants.acme)
    assert AuditEvent.objects.get(action="feature.switch").data == {
        "name": "email_hosting",
        "enabled": False,
    }
    ops_client.post("/operator/switches/email_hosting/")
    assert feature_enabled("email_hosting")


def test_a_switched_off_feature_answers_maintenance(ops_client, tenants):
    from mailherd.operator.errors import FeaturePaused

    ops_client.post("/operator/switches/email_hosting/", {"confirmed": "yes"})
    with pytest.raises(FeaturePaused) as paused:
        feature_require("email_hosting", tenants.acme)
    assert paused.value.http_status == 503 and paused.value.code == "maintenance"


def test_a_feature_missing_from_the_plan_answers_like_a_missing_route(tenants):
    from mailherd.core.errors import NotFound

    with pytest.raises(NotFound) as missing:
        feature_require("imap_migration", tenants.acme)  # not in Starter
    assert missing.value.http_status == 404 and missing.value.code == "not_found"


def test_the_portal_decorator_answers_maintenance_when_a_feature_is_off(rf, tenants):
    from django.http import HttpResponse

    from mailherd.core.actors import Actor
    from mailherd.operator.selectors import feature_view
    from mailherd.operator.services import feature_switch_set

    @feature_view("email_hosting")
    def page(request):
        return HttpResponse("ok")

    request = rf.get("/")
    request.organization = tenants.acme
    assert page(request).status_code == 200
    feature_switch_set(actor=Actor.system(), name="email_hosting", enabled=False)
    response = page(request)
    assert response.status_code == 503 and b"paused for maintenance" in response.content


def test_per_plan_features_follow_the_organizations_plan(tenants):
    plan = tenants.acme.plan
    plan.features = ["api"]
    plan.save()
    assert feature_enabled("api", tenants.acme)
    assert not feature_enabled("catch_all", tenants.acme)
    assert feature_enabled("catch_all")  # without an organization: the global switch only


def test_unknown_switches_cannot_be_toggled(ops_client):
    assert ops_client.post("/operator/switches/nonsense/").status_code == 404
