"""Billing pages in the portal and the back office: tenancy, billing off, refunds."""

import pytest

from mailherd.billing.models import Invoice, Refund
from mailherd.core.audit import AuditEvent
from tests.billing.conftest import subscribe
from tests.operator.fixtures import sign_in_with_two_factor, with_two_factor


def _key() -> str:
    """The refund form's nonce (a fresh one per rendered form)."""
    import uuid

    return uuid.uuid4().hex


PAGES = ["billing/", "billing/plans/", "billing/invoices/", "billing/card/"]


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_an_outsider_gets_404_on_another_organizations_billing(
    alice_client, tenants, page, stripe_settings
):
    response = alice_client.get(f"/o/{tenants.globex.slug}/{page}")
    assert response.status_code == 404
    assert b"Globex" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["cancel/", "resume/", "reactivate/", "pay/", "plans/starter/"])
def test_an_outsider_cannot_post_billing_actions(alice_client, tenants, action, stripe_settings):
    assert alice_client.post(f"/o/{tenants.globex.slug}/billing/{action}").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "page,words",
    [
        ("billing/", b"Questions about billing"),
        ("billing/plans/", b"approves plan changes"),
        ("billing/invoices/", b"sends your invoices"),
        ("billing/card/", b"No card is needed"),
    ],
)
def test_without_stripe_keys_billing_pages_are_manual_billing(
    alice_client, tenants, page, words, settings
):
    settings.STRIPE_SECRET_KEY = None
    response = alice_client.get(f"/o/{tenants.acme.slug}/{page}")
    assert response.status_code == 200
    assert words in response.content


@pytest.mark.django_db
def test_the_sidebar_links_to_billing(alice_client, tenants):
    response = alice_client.get(f"/o/{tenants.acme.slug}/")
    assert f'href="/o/{tenants.acme.slug}/billing/"'.encode() in response.content


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_operator_refunds_part_then_the_rest_and_the_customer_sees_it(
    localstripe, tenants, operator_user, client
):
    subscribe(tenants.acme, "enterprise")
    invoice = Invoice.objects.get()
    sign_in_with_two_factor(client, with_two_factor(operator_user))  # the back office wants TOTP
    url = f"/operator/billing/invoice/{invoice.pk}/refund/"
    assert client.get(url).status_code == 200
    assert (
        f"/billing/invoice/{invoice.pk}/refund/"
        in client.get("/operator/billing/invoice/").content.decode()
    )

    # a refund bigger than what was paid is refused
    response = client.post(url, {"amount": "250.00", "reason": "oops", "key": _key()})
    assert b"Refund between" in response.content
    assert not Refund.objects.exists()

    client.post(url, {"amount": "50.00", "reason": "outage credit", "key": _key()})
    invoice.refresh_from_db()
    assert invoice.amount_refunded == 5000 and invoice.display_status == "Partly refunded"

    client.post(url, {"amount": "149.00", "reason": "goodwill", "key": _key()})
    invoice.refresh_from_db()
    assert invoice.amount_refunded == 19900 and invoice.display_status == "Refunded"
    assert [r.amount for r in Refund.objects.order_by("created_at")] == [5000, 14900]
    assert AuditEvent.objects.filter(action="billing.invoice_refund").count() == 2

    client.force_login(tenants.alice)
    page = client.get(f"/o/{tenants.acme.slug}/billing/invoices/").content.decode()
    assert "Refunded" in page and "refunded 199.00" in page


@pytest.mark.django_db
def test_the_back_office_lists_subscriptions_invoices_and_events(client, tenants, operator_user):
    from django.utils import timezone

    from mailherd.billing.models import Subscription, WebhookEvent

    subscription = Subscription.objects.create(organization=tenants.acme, status="past_due")
    Invoice.objects.create(
        organization=tenants.acme,
        subscription=subscription,
        stripe_invoice_id="in_1",
        status="open",
        issued_at=timezone.now(),
    )
    WebhookEvent.objects.create(
        stripe_event_id="evt_1",
        type="invoice.payment_failed",
        status="failed",
        handler_error="boom",
    )
    sign_in_with_two_factor(client, with_two_factor(operator_user))

    for url, text in (
        ("/operator/billing/subscription/", "Acme"),
        (f"/operator/billing/subscription/{subscription.pk}/change/", "Past due"),
        ("/operator/billing/invoice/", "in_1"),
        ("/operator/billing/webhookevent/", "evt_1"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url
