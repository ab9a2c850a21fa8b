"""Dunning end to end against localstripe, driven by a clock (no sleeps).

A card that fails on every charge (4000000000000341) makes a renewal fail →
past due → retries and escalating emails on days 1, 3, 5, 7 → suspended →
the customer enters a good card → paid at once → restored as it was.
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from mailherd.billing.dunning import dunning_sweep
from mailherd.billing.models import DunningNotice, Subscription
from mailherd.billing.services import plan_stripe_link
from mailherd.core.actors import Actor
from mailherd.hosting.services import organization_mail_suspend
from mailherd.notifications.models import NotificationLog
from mailherd.plans.models import Plan
from mailherd.tenancy.models import Organization
from tests.billing.conftest import FAILS_ON_CHARGE, add_card, post_event, stripe_client, subscribe

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _renewal_fails(subscription: Subscription) -> str:
    """Make Stripe issue an invoice that the (bad) card cannot pay; return its id.

    localstripe has no clock to renew a subscription, but moving it to a price
    with another interval invoices at once (reference/test-services.md), which
    is what a renewal looks like from here. The yearly price maps to the same plan.
    """
    c = stripe_client()
    plan = subscription.plan
    yearly = c.v1.plans.create(
        params={
            "product": plan.stripe_product_id,
            "amount": plan.price_yearly_cents,
            "currency": plan.currency,
            "interval": "year",
            "metadata": {"mailherd_plan": plan.slug},
        }
    )
    remote = c.v1.subscriptions.retrieve(subscription.stripe_subscription_id)
    updated = c.v1.subscriptions.update(
        remote.id, params={"items": [{"id": remote["items"].data[0].id, "plan": yearly.id}]}
    )
    assert updated.status == "past_due"
    return updated.latest_invoice


def _emails(org) -> list[str]:
    return list(
        NotificationLog.objects.filter(organization=org, template__startswith="billing_")
        .order_by("created_at", "pk")
        .values_list("template", flat=True)
    )


@pytest.fixture
def overdue(localstripe, tenants, client):
    """Acme on Enterprise whose renewal just failed, as Stripe reports it by webhook."""
    subscribe(tenants.acme, "enterprise")
    add_card(tenants.acme, FAILS_ON_CHARGE)  # the card on file starts failing
    subscription = Subscription.objects.get(organization=tenants.acme)
    invoice_id = _renewal_fails(subscription)
    customer = subscription.stripe_customer_id
    response = post_event(
        client,
        "invoice.payment_failed",
        {"id": invoice_id, "object": "invoice", "customer": customer},
    )
    assert response.status_code == 200
    return Subscription.objects.get(pk=subscription.pk)


def test_a_failed_renewal_walks_the_dunning_schedule_and_payment_restores_everything(
    overdue, tenants
):
    org = tenants.acme
    start = overdue.dunning_started_at
    # then: past due, first email with a link to update the card, service still on
    assert overdue.status == "past_due"
    assert _emails(org) == ["billing_payment_failed"]
    assert "/billing/card/" in mail.outbox[-1].body
    assert overdue.next_dunning_at == start + timedelta(days=1)

    def sweep_at(days: float) -> None:
        dunning_sweep(now=start + timedelta(days=days))

    sweep_at(0.5)  # nothing due yet
    assert Subscription.objects.get().dunning_retries == 0

    sweep_at(1)  # first retry fails quietly
    row = Subscription.objects.get()
    assert row.dunning_retries == 1 and row.status == "past_due"
    assert _emails(org) == ["billing_payment_failed"]

    sweep_at(3)  # second retry + reminder
    assert _emails(org)[-1] == "billing_payment_reminder"
    sweep_at(5)  # third retry + final notice
    assert _emails(org)[-1] == "billing_final_notice"
    org.refresh_from_db()
    assert org.status == Organization.Status.ACTIVE  # not suspended before the grace period

    sweep_at(7)  # last retry fails: suspended
    org.refresh_from_db()
    row = Subscription.objects.get()
    assert org.status == Organization.Status.SUSPENDED
    assert row.dunning_retries == 4 and row.suspended_by_billing
    assert _emails(org) == [
        "billing_payment_failed",
        "billing_payment_reminder",
        "billing_final_notice",
        "billing_suspended",
    ]
    # nothing more until the next stage of the suspension (test_suspension_stages.py)
    assert row.next_dunning_at == start + timedelta(days=7 + 30)

    # sweeping again sends nothing twice
    sweep_at(8)
    sweep_at(30)
    assert len(_emails(org)) == 4

    # when the customer enters a good card, the open invoice is paid at once
    add_card(org)

    org.refresh_from_db()
    row = Subscription.objects.get()
    assert row.status == "active" and not row.in_dunning and not row.suspended_by_billing
    assert org.status == Organization.Status.ACTIVE
    assert _emails(org)[-1] == "billing_restored"
    assert "active again" in mail.outbox[-1].body


def test_a_late_sweep_sends_only_the_current_notice(overdue, tenants):
    start = overdue.dunning_started_at

    dunning_sweep(now=start + timedelta(days=5, hours=1))  # the scheduler was down for days

    assert _emails(tenants.acme) == ["billing_payment_failed", "billing_final_notice"]
    assert Subscription.objects.get().dunning_retries == 3


def test_paying_from_the_portal_ends_dunning_before_suspension(overdue, tenants, alice_client):
    add_card(tenants.acme)  # replacing the card retries at once
    row = Subscription.objects.get()
    assert row.status == "active" and not row.in_dunning and row.next_dunning_at is None
    assert _emails(tenants.acme) == ["billing_payment_failed", "billing_restored"]
    page = alice_client.get(f"/o/{tenants.acme.slug}/billing/").content.decode()
    assert "Your last payment failed" not in page


def test_the_portal_shows_the_overdue_state_with_a_way_to_pay(overdue, tenants, alice_client):
    page = alice_client.get(f"/o/{tenants.acme.slug}/billing/").content.decode()
    assert "Your last payment failed" in page
    assert "Update card" in page and "Pay now" in page

    response = alice_client.post(f"/o/{tenants.acme.slug}/billing/pay/", follow=True)

    assert "The payment failed" in response.content.decode()  # still the bad card
    assert Subscription.objects.get().status == "past_due"


def test_billing_does_not_lift_a_suspension_it_did_not_make(overdue, tenants):
    # given the operator suspended Acme for another reason
    organization_mail_suspend(actor=Actor.system(), organization_id=tenants.acme.pk, reason="abuse")
    start = overdue.dunning_started_at
    dunning_sweep(now=start + timedelta(days=7))
    assert not Subscription.objects.get().suspended_by_billing

    add_card(tenants.acme)  # pays

    tenants.acme.refresh_from_db()
    assert tenants.acme.status == Organization.Status.SUSPENDED


def test_the_sweep_only_looks_at_due_subscriptions(overdue, tenants, django_assert_max_num_queries):
    # given many accounts that are not due
    for org in Organization.objects.exclude(pk=tenants.acme.pk):
        Subscription.objects.create(organization=org, status="active")
    later = timezone.now() + timedelta(hours=1)
    Subscription.objects.filter(pk=overdue.pk).update(next_dunning_at=later + timedelta(days=1))

    with django_assert_max_num_queries(1):
        assert dunning_sweep(now=later) == 0

    assert DunningNotice.objects.count() == 1


def test_linking_a_plan_creates_a_legacy_plan_on_localstripe(localstripe):
    plan = Plan.objects.get(slug="starter")
    assert plan.stripe_price_id.startswith("plan_")
    assert plan_stripe_link(actor=Actor.system(), plan=plan).stripe_price_id == plan.stripe_price_id
