"""Subscription lifecycle against a real localstripe: what the customer sees happen to their plan."""

import pytest
from django.core import mail

from mailherd.billing import services
from mailherd.billing.errors import DowngradeBlocked, PaymentDeclined, SubscriptionStateError
from mailherd.billing.models import Invoice, Subscription
from mailherd.core.actors import Actor
from mailherd.plans.models import Plan
from mailherd.tenancy.models import Organization
from tests.billing.conftest import (
    FAILS_ON_CHARGE,
    add_card,
    owner_membership,
    post_event,
    stripe_client,
    subscribe,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _owner(org):
    membership = owner_membership(org)
    return Actor.for_user(membership.user), membership


def test_subscribing_with_a_trial_plan_starts_the_trial_and_sets_the_plan(localstripe, tenants):
    # given Acme on the default plan, with a good card
    # when it subscribes to Business (14-day trial)
    subscription = subscribe(tenants.acme, "business")

    # then it is in trial, on Business, with nothing charged yet
    assert subscription.status == Subscription.Status.TRIALING
    assert subscription.trial_end is not None
    tenants.acme.refresh_from_db()
    assert tenants.acme.plan.slug == "business"
    assert subscription.card_last4 == "4242"
    assert not Invoice.objects.filter(organization=tenants.acme, status="paid").exists()


def test_subscribing_without_trial_charges_and_shows_the_paid_invoice(
    localstripe, tenants, alice_client
):
    subscription = subscribe(tenants.acme, "enterprise")

    assert subscription.status == Subscription.Status.ACTIVE
    tenants.acme.refresh_from_db()
    assert tenants.acme.plan.slug == "enterprise"
    invoice = Invoice.objects.get(organization=tenants.acme)
    assert (invoice.status, invoice.amount_paid) == ("paid", 19900)
    page = alice_client.get(f"/o/{tenants.acme.slug}/billing/invoices/")
    assert b"199.00 USD" in page.content and b"Paid" in page.content


def test_a_trial_is_given_once_per_organization(localstripe, tenants):
    subscribe(tenants.acme, "business")
    actor, membership = _owner(tenants.acme)
    stripe_client().v1.subscriptions.cancel(Subscription.objects.get().stripe_subscription_id)
    services.billing_sync(subscription_id=Subscription.objects.get().pk)

    again = services.subscription_reactivate(actor=actor, membership=membership)

    assert again.status == Subscription.Status.ACTIVE  # charged at once, no second trial


def test_upgrade_is_prorated_and_charged_at_once(localstripe, tenants):
    # given Acme paying for Starter (no trials in this test)
    Plan.objects.update(trial_days=0)
    subscribe(tenants.acme, "starter")
    actor, membership = _owner(tenants.acme)

    # when it upgrades to Business
    services.subscription_change_plan(actor=actor, membership=membership, plan_slug="business")

    # then the plan changes at once and the difference is charged now
    tenants.acme.refresh_from_db()
    assert tenants.acme.plan.slug == "business"
    upgrade = (
        Invoice.objects.filter(organization=tenants.acme).order_by("-issued_at", "-pk").first()
    )
    assert upgrade.status == "paid"
    # localstripe credits the whole unused Starter invoice (Stripe: the unused days)
    assert upgrade.amount_paid == 4900 - 900


def test_downgrade_takes_effect_and_is_credited_on_the_next_invoice(localstripe, tenants):
    subscribe(tenants.acme, "enterprise")
    actor, membership = _owner(tenants.acme)

    services.subscription_change_plan(actor=actor, membership=membership, plan_slug="business")

    tenants.acme.refresh_from_db()
    assert tenants.acme.plan.slug == "business"
    assert Invoice.objects.filter(organization=tenants.acme).count() == 1  # nothing charged now


def test_downgrade_is_refused_with_what_to_remove(localstripe, tenants, monkeypatch):
    subscribe(tenants.acme, "enterprise")
    actor, membership = _owner(tenants.acme)
    # given Acme uses 12 domains and 150 mailboxes (hosting counts them)
    monkeypatch.setattr(
        "mailherd.hosting.selectors.hosting_usage_counts",
        lambda organization, **_: {"domains": 12, "mailboxes": 150, "aliases": 0, "storage_mb": 0},
    )

    with pytest.raises(DowngradeBlocked) as refused:
        services.subscription_change_plan(actor=actor, membership=membership, plan_slug="business")

    assert refused.value.fields["over"] == [
        "Remove 2 domains (you use 12; Business allows 10).",
        "Remove 50 mailboxes (you use 150; Business allows 100).",
    ]
    tenants.acme.refresh_from_db()
    assert tenants.acme.plan.slug == "enterprise"


def test_downgrade_refusal_is_shown_on_the_plans_page(
    localstripe, tenants, alice_client, monkeypatch
):
    subscribe(tenants.acme, "enterprise")
    monkeypatch.setattr(
        "mailherd.hosting.selectors.hosting_usage_counts",
        lambda organization, **_: {"domains": 4, "mailboxes": 0, "aliases": 0, "storage_mb": 0},
    )
    page = alice_client.get(f"/o/{tenants.acme.slug}/billing/plans/").content.decode()
    assert "Remove 1 domain (you use 4; Starter allows 3)." in page

    response = alice_client.post(f"/o/{tenants.acme.slug}/billing/plans/starter/", follow=True)

    assert "Remove 1 domain " in response.content.decode()
    tenants.acme.refresh_from_db()
    assert tenants.acme.plan.slug == "enterprise"


def test_cancel_at_period_end_then_resume(localstripe, tenants, alice_client):
    subscribe(tenants.acme, "enterprise")
    url = f"/o/{tenants.acme.slug}/billing/"

    alice_client.post(url + "cancel/")
    subscription = Subscription.objects.get()
    assert subscription.cancel_at_period_end and subscription.status == "active"
    assert "Ends" in alice_client.get(url).content.decode()

    alice_client.post(url + "resume/")
    subscription.refresh_from_db()
    assert not subscription.cancel_at_period_end
    assert (
        stripe_client()
        .v1.subscriptions.retrieve(subscription.stripe_subscription_id)
        .cancel_at_period_end
        is False
    )


def test_an_ended_subscription_suspends_and_reactivation_restores(localstripe, tenants, client):
    subscribe(tenants.acme, "enterprise")
    subscription = Subscription.objects.get()
    # the period ends: Stripe cancels the subscription and tells us
    stripe_client().v1.subscriptions.cancel(subscription.stripe_subscription_id)
    response = post_event(
        client,
        "customer.subscription.deleted",
        {
            "id": subscription.stripe_subscription_id,
            "object": "subscription",
            "customer": subscription.stripe_customer_id,
        },
    )
    assert response.status_code == 200

    tenants.acme.refresh_from_db()
    assert tenants.acme.status == Organization.Status.SUSPENDED
    assert Subscription.objects.get().status == "canceled"
    assert any("has ended" in m.subject for m in mail.outbox)

    # when the owner reactivates
    actor, membership = _owner(tenants.acme)
    services.subscription_reactivate(actor=actor, membership=membership)

    tenants.acme.refresh_from_db()
    assert tenants.acme.status == Organization.Status.ACTIVE
    assert Subscription.objects.get().status == "active"


def test_a_card_that_fails_on_charge_leaves_the_plan_unchanged_until_a_good_card(
    localstripe, tenants
):
    with pytest.raises(PaymentDeclined):
        subscribe(tenants.acme, "enterprise", number=FAILS_ON_CHARGE)
    tenants.acme.refresh_from_db()
    assert tenants.acme.plan.slug == "starter"
    assert Subscription.objects.get().status == "incomplete"

    # the customer enters another card: the open invoice is charged at once
    subscription = add_card(tenants.acme)

    assert subscription.status == "active"
    tenants.acme.refresh_from_db()
    assert tenants.acme.plan.slug == "enterprise"


def test_changing_plan_without_a_subscription_is_refused(localstripe, tenants):
    actor, membership = _owner(tenants.acme)
    with pytest.raises(SubscriptionStateError):
        services.subscription_change_plan(actor=actor, membership=membership, plan_slug="business")


def test_a_member_without_billing_role_cannot_subscribe(localstripe, tenants, alice_client):
    from mailherd.tenancy.models import Membership

    Membership.objects.filter(user=tenants.alice).update(role="member")
    response = alice_client.post(f"/o/{tenants.acme.slug}/billing/plans/business/", follow=True)
    assert not Subscription.objects.filter(status__in=["active", "trialing"]).exists()
    assert response.status_code == 200
