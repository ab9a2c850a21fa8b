"""Refunds against localstripe: a double submit refunds once; Stripe dashboard refunds are mirrored."""

import threading
import uuid

import pytest
from django.db import connection

from mailherd.billing import services
from mailherd.billing.models import Invoice, Refund
from mailherd.core.actors import Actor
from mailherd.core.audit import AuditEvent
from tests.billing.conftest import post_event, stripe_client, subscribe

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _stripe_refunds(invoice) -> list:
    return (
        stripe_client()
        .v1.refunds.list(params={"payment_intent": invoice.stripe_payment_intent_id})
        .data
    )


def test_submitting_the_refund_form_twice_refunds_once(localstripe, tenants, operator_user):
    subscribe(tenants.acme, "enterprise")
    invoice = Invoice.objects.get()
    actor = Actor.for_user(operator_user)
    key = uuid.uuid4().hex

    first = services.invoice_refund(
        actor=actor, invoice_id=invoice.pk, amount=5000, idempotency_key=key
    )
    again = services.invoice_refund(
        actor=actor, invoice_id=invoice.pk, amount=5000, idempotency_key=key
    )

    assert first.pk == again.pk
    invoice.refresh_from_db()
    assert invoice.amount_refunded == 5000
    assert [r.amount for r in _stripe_refunds(invoice)] == [5000]
    assert AuditEvent.objects.filter(action="billing.invoice_refund").count() == 1


@pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="needs concurrent writers (PostgreSQL)"
)
def test_two_simultaneous_submits_refund_once(localstripe, tenants, operator_user):
    subscribe(tenants.acme, "enterprise")
    invoice = Invoice.objects.get()
    actor = Actor.for_user(operator_user)
    key = uuid.uuid4().hex
    barrier = threading.Barrier(4)
    errors = []

    def submit():
        try:
            barrier.wait()
            services.invoice_refund(
                actor=actor, invoice_id=invoice.pk, amount=19900, idempotency_key=key
            )
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    invoice.refresh_from_db()
    assert invoice.amount_refunded == 19900 and Refund.objects.count() == 1
    assert [r.amount for r in _stripe_refunds(invoice)] == [19900]


def test_a_refund_made_in_the_stripe_dashboard_is_mirrored_from_the_webhook(
    localstripe, tenants, client, alice_client
):
    subscribe(tenants.acme, "enterprise")
    invoice = Invoice.objects.get()
    # someone refunds 20.00 in Stripe's dashboard
    refund = stripe_client().v1.refunds.create(
        params={"payment_intent": invoice.stripe_payment_intent_id, "amount": 2000}
    )
    charge_id = refund.charge if isinstance(refund.charge, str) else refund.charge.id

    response = post_event(client, "charge.refunded", {"id": charge_id, "object": "charge"})
    assert response.status_code == 200 and response.json()["status"] == "processed"
    # a replay (or a second refund event) does not count it twice
    post_event(client, "charge.refunded", {"id": charge_id, "object": "charge"})

    invoice.refresh_from_db()
    assert invoice.amount_refunded == 2000
    mirrored = Refund.objects.get()
    assert (mirrored.stripe_refund_id, mirrored.amount, mirrored.created_by) == (
        refund.id,
        2000,
        "Stripe dashboard",
    )
    page = alice_client.get(f"/o/{tenants.acme.slug}/billing/invoices/").content.decode()
    assert "refunded 20.00" in page


def test_our_own_refund_is_not_mirrored_twice(localstripe, tenants, client, operator_user):
    subscribe(tenants.acme, "enterprise")
    invoice = Invoice.objects.get()
    ours = services.invoice_refund(
        actor=Actor.for_user(operator_user),
        invoice_id=invoice.pk,
        amount=1000,
        idempotency_key=uuid.uuid4().hex,
    )
    charge_id = stripe_client().v1.refunds.retrieve(ours.stripe_refund_id).charge
    post_event(client, "charge.refunded", {"id": charge_id, "object": "charge"})
    invoice.refresh_from_db()
    assert invoice.amount_refunded == 1000 and Refund.objects.count() == 1


def test_the_refund_form_posted_twice_refunds_once(localstripe, tenants, operator_user, client):
    from tests.operator.fixtures import sign_in_with_two_factor, with_two_factor

    subscribe(tenants.acme, "enterprise")
    invoice = Invoice.objects.get()
    sign_in_with_two_factor(client, with_two_factor(operator_user))
    url = f"/operator/billing/invoice/{invoice.pk}/refund/"
    key = client.get(url).context["form"].initial["key"]
    for _ in range(2):  # a double click
        client.post(url, {"amount": "30.00", "reason": "double click", "key": key})
    invoice.refresh_from_db()
    assert invoice.amount_refunded == 3000
    assert [r.amount for r in _stripe_refunds(invoice)] == [3000]
