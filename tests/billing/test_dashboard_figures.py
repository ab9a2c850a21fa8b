"""The back-office dashboard's revenue figures, computed from localstripe subscriptions and invoices."""

import pytest

from mailherd.operator.selectors import operator_dashboard
from mailherd.plans.models import Plan
from mailherd.tenancy.models import Organization
from tests.billing.conftest import FAILS_ON_CHARGE, add_card, post_event, subscribe
from tests.billing.test_dunning import _renewal_fails
from tests.conftest import make_org, make_user
from tests.operator.fixtures import sign_in_with_two_factor, with_two_factor

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_mrr_and_past_due_come_from_subscriptions_and_invoices(
    localstripe, tenants, client, operator_user
):
    from mailherd.billing.models import Invoice, Subscription

    # Acme pays Enterprise; Globex is in its Business trial; Initech's renewal failed
    subscribe(tenants.acme, "enterprise")
    subscribe(tenants.globex, "business")
    initech = make_org(make_user("boss@initech.test"), "Initech")
    Plan.objects.filter(slug="starter").update(trial_days=0)
    subscribe(initech, "starter")
    add_card(initech, FAILS_ON_CHARGE)
    row = Subscription.objects.get(organization=initech)
    invoice_id = _renewal_fails(row)
    post_event(
        client,
        "invoice.payment_failed",
        {"id": invoice_id, "object": "invoice", "customer": row.stripe_customer_id},
    )
    # and an organization with no subscription at all
    make_org(make_user("free@hooli.test"), "Hooli")

    dashboard = operator_dashboard()

    starter = Plan.objects.get(slug="starter")
    enterprise = Plan.objects.get(slug="enterprise")
    assert dashboard.mrr == [("usd", enterprise.price_monthly_cents + starter.price_monthly_cents)]
    owed = Invoice.objects.get(stripe_invoice_id=invoice_id)
    assert owed.status == "open" and owed.amount_due > 0
    assert dashboard.past_due_count == 1
    assert dashboard.past_due_amount == [("usd", owed.amount_due)]
    assert Organization.objects.count() == 4

    sign_in_with_two_factor(client, with_two_factor(operator_user))
    page = client.get("/operator/").content.decode()
    assert "Shown once billing records invoices" not in page
