"""PUT /api/v1/subscription/plan: the billing page's "choose this plan" for scripts, on
localstripe and in manual billing; the same rules (downgrades that do not fit, card first)."""

import pytest

from mailherd.api.services import api_token_create
from mailherd.billing.models import PlanRequest
from mailherd.core.actors import Actor
from tests.billing.conftest import add_card, subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def put_plan(client, tenants):
    plan = tenants.acme.plan
    plan.features = sorted(set(plan.features) | {"api"})
    plan.save(update_fields=["features"])
    _t, token = api_token_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="billing"
    )

    def put(slug):
        return client.put(
            "/api/v1/subscription/plan",
            {"plan": slug},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    return put


def test_without_a_card_the_api_says_to_add_one(localstripe, tenants, put_plan):
    response = put_plan("business")
    assert response.status_code == 409
    assert response.json()["code"] == "card_needed"


def test_with_a_card_the_plan_starts_and_then_changes(localstripe, tenants, put_plan):
    add_card(tenants.acme)
    started = put_plan("business")
    assert started.status_code == 200, started.content
    assert started.json()["outcome"] == "started" and started.json()["plan"] == "business"
    changed = put_plan("enterprise")
    assert changed.json() == {"outcome": "changed", "plan": "enterprise", "requested_plan": None}


def test_a_downgrade_that_does_not_fit_lists_what_to_remove(
    localstripe, tenants, put_plan, monkeypatch
):
    subscribe(tenants.acme, "enterprise")
    monkeypatch.setattr(
        "mailherd.hosting.selectors.hosting_usage_counts",
        lambda organization, **_: {"domains": 4, "mailboxes": 0, "aliases": 0, "storage_mb": 0},
    )
    response = put_plan("starter")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "downgrade_blocked"
    assert body["over"] == ["Remove 1 domain (you use 4; Starter allows 3)."]


def test_unknown_plan_is_404(localstripe, put_plan):
    assert put_plan("platinum").status_code == 404


def test_with_manual_billing_the_api_asks_the_operator(settings, tenants, put_plan):
    settings.STRIPE_SECRET_KEY = None
    response = put_plan("business")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "outcome": "requested",
        "plan": tenants.acme.plan.slug,
        "requested_plan": "business",
    }
    assert PlanRequest.objects.get(organization=tenants.acme).status == "pending"
    # asking for the current plan withdraws the request
    withdrawn = put_plan(tenants.acme.plan.slug)
    assert withdrawn.json()["outcome"] == "withdrawn"
