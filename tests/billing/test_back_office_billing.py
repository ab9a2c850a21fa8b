"""The operator's billing back office against localstripe: plan changes that stick, plans created
in Stripe, new prices on price edits, webhook dead letters, editable dunning days."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailherd.billing import conf, gateway, services
from mailherd.billing.dunning import dunning_next_step
from mailherd.billing.models import BillingSettings, Invoice, Subscription, WebhookEvent
from mailherd.billing.webhooks import webhook_events_retry
from mailherd.core.actors import Actor
from mailherd.core.audit import AuditEvent
from mailherd.plans.models import Plan
from tests.billing.conftest import FAILS_ON_CHARGE, add_card, post_event, stripe_client, subscribe
from tests.operator.fixtures import sign_in_with_two_factor, with_two_factor

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def ops(client, operator_user):
    return sign_in_with_two_factor(client, with_two_factor(operator_user))


def _stripe_price(subscription: Subscription) -> str:
    return gateway.subscription_get(subscription.stripe_subscription_id).price_id


# -- 1. the operator's plan change reaches Stripe and the sync agrees -----------------------


@pytest.mark.parametrize("proration", ["create_prorations", "always_invoice", "none"])
def test_a_back_office_plan_change_moves_the_stripe_subscription_and_survives_the_sync(
    localstripe, tenants, ops, proration
):
    Plan.objects.update(trial_days=0)
    subscribe(tenants.acme, "business")
    row = Subscription.objects.get(organization=tenants.acme)
    enterprise = Plan.objects.get(slug="enterprise")

    response = ops.post(
        f"/operator/tenancy/organization/{tenants.acme.pk}/change-plan/",
        {"plan": enterprise.pk, "proration": proration},
    )
    assert response.status_code == 302, response.content.decode()[:1500]

    # Stripe charges the new price, and the next sync keeps Enterprise
    assert _stripe_price(row) == enterprise.stripe_price_id
    services.billing_sync(subscription_id=row.pk)
    tenants.acme.refresh_from_db()
    row.refresh_from_db()
    assert tenants.acme.plan.slug == "enterprise" and row.plan.slug == "enterprise"
    audit = AuditEvent.objects.filter(action="billing.plan_change").latest("pk")
    assert audit.data["proration"] == proration and audit.data["by"] == "operator"
    invoices = Invoice.objects.filter(organization=tenants.acme).count()
    assert invoices == (2 if proration == "always_invoice" else 1)


def test_a_plan_without_a_stripe_price_is_refused_for_a_stripe_customer(localstripe, tenants, ops):
    Plan.objects.update(trial_days=0)
    subscribe(tenants.acme, "business")
    Plan.objects.filter(slug="enterprise").update(stripe_price_id="")
    response = ops.post(
        f"/operator/tenancy/organization/{tenants.acme.pk}/change-plan/",
        {"plan": Plan.objects.get(slug="enterprise").pk, "proration": "none"},
    )
    assert "Create in Stripe" in response.content.decode()
    tenants.acme.refresh_from_db()
    assert tenants.acme.plan.slug == "business"


# -- 4. "Create in Stripe" and price edits ------------------------------------------------


def test_create_in_stripe_makes_the_product_and_price_and_links_them(localstripe, ops):
    plan = Plan.objects.get(slug="business")
    Plan.objects.filter(pk=plan.pk).update(stripe_product_id="", stripe_price_id="")
    ops.post("/operator/plans/plan/", {"action": "create_in_stripe", "_selected_action": [plan.pk]})
    plan.refresh_from_db()
    assert plan.stripe_product_id.startswith("prod_") and plan.stripe_price_id
    remote = stripe_client().v1.plans.retrieve(plan.stripe_price_id)  # localstripe: legacy Plans
    assert (remote.amount, remote.product, remote.metadata["mailherd_plan"]) == (
        plan.price_monthly_cents,
        plan.stripe_product_id,
        "business",
    )
    assert AuditEvent.objects.filter(action="billing.plan_link").exists()


def test_a_price_edit_makes_a_new_price_and_existing_subscriptions_keep_theirs(
    localstripe, tenants, operator_user
):
    Plan.objects.update(trial_days=0)
    subscribe(tenants.acme, "business")
    row = Subscription.objects.get(organization=tenants.acme)
    plan = Plan.objects.get(slug="business")
    old_price = plan.stripe_price_id

    Plan.objects.filter(pk=plan.pk).update(price_monthly_cents=5900)
    services.plan_stripe_price_update(actor=Actor.for_user(operator_user), plan=plan)

    plan.refresh_from_db()
    assert plan.stripe_price_id != old_price
    assert gateway.price_amount(plan.stripe_price_id) == 5900
    assert _stripe_price(row) == old_price  # Acme keeps its price
    services.billing_sync(subscription_id=row.pk)
    tenants.acme.refresh_from_db()
    assert tenants.acme.plan.slug == "business"  # still mapped through the price's metadata
    # a new subscriber gets the new price
    subscribe(tenants.globex, "business")
    assert (
        _stripe_price(Subscription.objects.get(organization=tenants.globex)) == plan.stripe_price_id
    )


def test_editing_the_price_in_the_back_office_creates_the_new_price(localstripe, ops):
    plan = Plan.objects.get(slug="starter")
    old_price = plan.stripe_price_id
    page = ops.get(f"/operator/plans/plan/{plan.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(
        {
            "monthly_price": "12.00",
            "yearly_price": "0",
            "features": plan.features,
            "_save": "Save",
        }
    )
    for key in ("is_public", "is_retired"):
        if not data.get(key):
            data.pop(key, None)
    response = ops.post(f"/operator/plans/plan/{plan.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    plan.refresh_from_db()
    assert plan.price_monthly_cents == 1200 and plan.stripe_price_id != old_price
    assert gateway.price_amount(plan.stripe_price_id) == 1200


# -- 3. webhook dead letters ---------------------------------------------------------------


def test_an_event_that_keeps_failing_becomes_a_dead_letter_after_bounded_tries(
    localstripe, tenants, client, settings
):
    settings.BILLING_WEBHOOK_MAX_ATTEMPTS = 3
    # an invoice event Stripe cannot give us the invoice for: handling fails every time
    body = {"id": "in_missing", "object": "invoice", "customer": "cus_x"}
    assert post_event(client, "invoice.paid", body, event_id="evt_dead").status_code == 500
    event = WebhookEvent.objects.get(stripe_event_id="evt_dead")
    assert (event.status, event.attempts) == ("failed", 1) and event.next_attempt_at

    later = timezone.now() + timedelta(days=2)
    webhook_events_retry(now=later)
    webhook_events_retry(now=later)
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("dead", 3)
    assert webhook_events_retry(now=later + timedelta(days=2)) == 0  # no longer tried
    # Stripe delivers it again: answered 200, not handled again
    response = post_event(client, "invoice.paid", body, event_id="evt_dead")
    assert response.status_code == 200 and response.json()["status"] == "dead"
    event.refresh_from_db()
    assert event.attempts == 3


def test_the_back_office_lists_dead_letters_and_handles_them_again(
    localstripe, tenants, ops, settings
):
    settings.BILLING_WEBHOOK_MAX_ATTEMPTS = 1
    client = ops.__class__()
    post_event(client, "invoice.paid", {"id": "in_missing", "object": "invoice"}, event_id="evt_d1")
    assert WebhookEvent.objects.get(stripe_event_id="evt_d1").status == "dead"
    listing = ops.get("/operator/billing/webhookdeadletter/").content.decode()
    assert "evt_d1" in listing
    assert "1</strong> Stripe event gave up" in ops.get("/operator/").content.decode()
    event = WebhookEvent.objects.get(stripe_event_id="evt_d1")
    ops.post(
        "/operator/billing/webhookdeadletter/",
        {"action": "reprocess", "_selected_action": [event.pk]},
    )
    event.refresh_from_db()
    assert (
        event.attempts == 1
    )  # a fresh round, tried once, dead again (the invoice is still missing)
    assert AuditEvent.objects.filter(action="billing.webhook_event_retry").count() == 1


# -- 5. dunning days in the back office and the next step ---------------------------------


def test_dunning_days_are_edited_in_the_back_office_with_environment_defaults(ops, settings):
    settings.BILLING_DUNNING_GRACE_DAYS = 9
    page = ops.get("/operator/billing/billingsettings/").content.decode()
    assert 'placeholder="9"' in page  # the environment's default shows
    assert conf.grace_period() == timedelta(days=9)
    response = ops.post(
        "/operator/billing/billingsettings/",
        {"grace_days": "4", "retry_days": "1, 2", "deactivate_days": "10", "delete_days": "20"},
    )
    assert response.status_code == 302
    assert conf.grace_period() == timedelta(days=4)
    assert conf.retry_days() == (1, 2)
    assert conf.deactivate_after() == timedelta(days=10)
    assert conf.delete_after() == timedelta(days=20)
    assert conf.deletion_warning_days() == (14, 3)  # blank: the default
    assert AuditEvent.objects.filter(action="billing.settings_update").count() == 1
    bad = ops.post("/operator/billing/billingsettings/", {"retry_days": "one, two"})
    assert bad.status_code == 200 and "numbers" in bad.content.decode()
    assert BillingSettings.load().retry_days == "1, 2"


def test_each_subscription_shows_its_next_dunning_step_and_date(
    localstripe, tenants, ops, operator_user
):
    from tests.billing.test_dunning import _renewal_fails

    subscribe(tenants.acme, "enterprise")
    add_card(tenants.acme, FAILS_ON_CHARGE)
    row = Subscription.objects.get(organization=tenants.acme)
    invoice_id = _renewal_fails(row)
    post_event(
        ops.__class__(),
        "invoice.payment_failed",
        {"id": invoice_id, "object": "invoice", "customer": row.stripe_customer_id},
    )
    row.refresh_from_db()
    when, what = dunning_next_step(row=row)
    assert when == row.dunning_started_at + timedelta(days=1) and what == "Retry the payment"
    listing = ops.get("/operator/billing/subscription/").content.decode()
    assert f"Retry the payment on {when:%Y-%m-%d %H:%M}" in listing
    # edited days move the schedule
    services.billing_settings_update(
        actor=Actor.for_user(operator_user),
        values={"retry_days": "2"},
    )
    when, what = dunning_next_step(row=Subscription.objects.get(pk=row.pk))
    assert when == row.dunning_started_at + timedelta(days=2)
