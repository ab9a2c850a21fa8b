"""The one module that talks to Stripe (official SDK), returning plain typed results.

It works with real Stripe (Prices, current API versions) and with localstripe
(legacy Plans, old object shapes), so everything above it is the same in
tests and production:

- a plan's Stripe id is either a Price (`price_…`) or a legacy Plan (`plan_…`);
  subscription items are built with the matching key;
- fields that moved between API versions (current period, invoice's
  subscription and payment intent) are read from either place;
- localstripe never produces `trialing`: a subscription whose trial has not
  ended and that has no invoice yet is reported as trialing;
- a declined payment is a result (`PaymentAttempt.paid=False`), not an
  exception: real Stripe raises CardError, localstripe returns the open invoice.

Never call this inside a database transaction (see docs/architecture.md).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings

from mailherd.billing.errors import BillingDisabled, BillingUnavailable, PaymentDeclined

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
MAX_NETWORK_RETRIES = 2
PLAN_METADATA_KEY = "mailherd_plan"


@dataclass(frozen=True)
class Card:
    payment_method_id: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True)
class RemoteSubscription:
    id: str
    customer_id: str
    status: str
    item_id: str
    price_id: str
    price_metadata: dict
    cancel_at_period_end: bool
    current_period_end: datetime | None
    trial_end: datetime | None
    canceled_at: datetime | None
    latest_invoice_id: str


@dataclass(frozen=True)
class RemoteInvoice:
    id: str
    customer_id: str
    subscription_id: str
    number: str
    status: str
    currency: str
    amount_due: int
    amount_paid: int
    attempt_count: int
    created: datetime
    period_start: datetime | None
    period_end: datetime | None
    hosted_invoice_url: str
    invoice_pdf: str
    payment_intent_id: str


@dataclass(frozen=True)
class PaymentAttempt:
    invoice: RemoteInvoice
    error: str = ""

    @property
    def paid(self) -> bool:
        return self.invoice.status == "paid"


@dataclass(frozen=True)
class RemoteRefund:
    id: str
    amount: int
    status: str


# -- plumbing ---------------------------------------------------------------


def client() -> stripe.StripeClient:
    key = getattr(settings, "STRIPE_SECRET_KEY", None)
    if not key:
        raise BillingDisabled()
    kwargs: dict[str, Any] = {
        "max_network_retries": MAX_NETWORK_RETRIES,
        "http_client": stripe.RequestsClient(timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)),
    }
    base = getattr(settings, "STRIPE_API_BASE", None)
    if base:
        kwargs["base_addresses"] = {"api": base.rstrip("/")}
    return stripe.StripeClient(key, **kwargs)


class _call:
    """Turn SDK failures into Mailherd errors: connection → BillingUnavailable, card → PaymentDeclined."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or not isinstance(exc, stripe.StripeError):
            return False
        if isinstance(exc, stripe.CardError):
            raise PaymentDeclined(exc.user_message or str(exc)) from exc
        if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
            raise BillingUnavailable() from exc
        if isinstance(exc, stripe.APIError):
            raise BillingUnavailable() from exc
        return False  # InvalidRequestError etc. are bugs or bad ids: let them surface


def _d(obj) -> dict:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    return obj.to_dict()


def _ts(value) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def _id(value) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        return value
    return _d(value).get("id", "")


def item_for(price_id: str) -> dict:
    """A subscription item for a Price or a legacy Plan id."""
    return {"plan": price_id} if price_id.startswith("plan_") else {"price": price_id}


def _subscription(obj) -> RemoteSubscription:
    data = _d(obj)
    items = (data.get("items") or {}).get("data") or []
    item = items[0] if items else {}
    price = item.get("price") or item.get("plan") or data.get("plan") or {}
    period_end = data.get("current_period_end") or item.get("current_period_end")
    status = data.get("status", "")
    trial_end = data.get("trial_end")
    if (
        status == "incomplete"
        and trial_end
        and trial_end > time.time()
        and not data.get("latest_invoice")
    ):
        status = "trialing"  # localstripe: trial without the trialing status
    if status == "trialing" and not period_end:
        period_end = trial_end
    return RemoteSubscription(
        id=data["id"],
        customer_id=_id(data.get("customer")),
        status=status,
        item_id=item.get("id", ""),
        price_id=_id(price),
        price_metadata=dict(price.get("metadata") or {}) if isinstance(price, dict) else {},
        cancel_at_period_end=bool(data.get("cancel_at_period_end")),
        current_period_end=_ts(period_end),
        trial_end=_ts(trial_end),
        canceled_at=_ts(data.get("ended_at") or data.get("canceled_at")),
        latest_invoice_id=_id(data.get("latest_invoice")),
    )


def _invoice(obj) -> RemoteInvoice:
    data = _d(obj)
    parent = data.get("parent") or {}
    subscription_id = _id(data.get("subscription")) or _id(
        (parent.get("subscription_details") or {}).get("subscription")
    )
    payment_intent_id = _id(data.get("payment_intent"))
    if not payment_intent_id and "payment_intent" not in data and data.get("status") == "paid":
        payment_intent_id = _invoice_payment_intent(data["id"])
    return RemoteInvoice(
        id=data["id"],
        customer_id=_id(data.get("customer")),
        subscription_id=subscription_id,
        number=data.get("number") or "",
        status=data.get("status") or "",
        currency=data.get("currency") or "usd",
        amount_due=int(data.get("amount_due") or 0),
        amount_paid=int(data.get("amount_paid") or 0),
        attempt_count=int(data.get("attempt_count") or 0),
        created=_ts(data.get("created") or data.get("date")) or datetime.now(tz=UTC),
        period_start=_ts(data.get("period_start")),
        period_end=_ts(data.get("period_end")),
        hosted_invoice_url=data.get("hosted_invoice_url") or "",
        invoice_pdf=data.get("invoice_pdf") or "",
        payment_intent_id=payment_intent_id,
    )


def _invoice_payment_intent(invoice_id: str) -> str:
    """Current API versions moved the payment intent off the invoice into InvoicePayments."""
    with _call():
        payments = client().v1.invoice_payments.list(params={"invoice": invoice_id})
    for payment in payments.data:
        inner = _d(payment).get("payment") or {}
        if inner.get("payment_intent"):
            return _id(inner["payment_intent"])
    return ""


# -- customers and cards ------------------------------------------------------


def customer_create(*, email: str, name: str, organization_id: int) -> str:
    with _call():
        customer = client().v1.customers.create(
            params={
                "email": email,
                "name": name,
                "metadata": {"organization_id": str(organization_id)},
            },
            options={"idempotency_key": f"mailherd-customer-{organization_id}"},
        )
    return customer.id


def setup_intent_create(*, customer_id: str) -> tuple[str, str]:
    """Return (id, client_secret) of a SetupIntent for saving a card for later charges."""
    with _call():
        intent = client().v1.setup_intents.create(
            params={
                "customer": customer_id,
                "usage": "off_session",
                "payment_method_types": ["card"],
            }
        )
    return intent.id, intent.client_secret


def setup_intent_payment_method(*, setup_intent_id: str, customer_id: str) -> str:
    """Return the card saved by a succeeded SetupIntent of this customer (else raise)."""
    with _call():
        intent = _d(client().v1.setup_intents.retrieve(setup_intent_id))
    if intent.get("customer") and _id(intent.get("customer")) != customer_id:
        raise PaymentDeclined("This card set-up belongs to another customer.")
    if intent.get("status") != "succeeded" or not intent.get("payment_method"):
        raise PaymentDeclined("The card could not be saved; please try again.")
    return _id(intent["payment_method"])


def card_set_default(*, customer_id: str, payment_method_id: str) -> Card:
    """Attach the card to the customer (if needed) and make it the default for invoices."""
    c = client()
    with _call():
        pm = _d(c.v1.payment_methods.retrieve(payment_method_id))
        if _id(pm.get("customer")) != customer_id:
            pm = _d(
                c.v1.payment_methods.attach(payment_method_id, params={"customer": customer_id})
            )
        c.v1.customers.update(
            customer_id, params={"invoice_settings": {"default_payment_method": payment_method_id}}
        )
    card = pm.get("card") or {}
    return Card(
        payment_method_id=payment_method_id,
        brand=card.get("brand") or "",
        last4=card.get("last4") or "",
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )


# -- subscriptions ------------------------------------------------------------


def subscription_create(
    *, customer_id: str, price_id: str, trial_end: datetime | None, organization_id: int
) -> RemoteSubscription:
    params: dict[str, Any] = {
        "customer": customer_id,
        "items": [item_for(price_id)],
        "metadata": {"organization_id": str(organization_id)},
        "expand": ["latest_invoice"],
    }
    if trial_end is not None:
        # trial_end rather than trial_period_days: localstripe ignores the latter.
        params["trial_end"] = int(trial_end.timestamp())
    with _call():
        return _subscription(client().v1.subscriptions.create(params=params))


def subscription_get(subscription_id: str) -> RemoteSubscription:
    with _call():
        return _subscription(client().v1.subscriptions.retrieve(subscription_id))


PRORATIONS = ("create_prorations", "always_invoice", "none")


def subscription_change_price(
    *, subscription: RemoteSubscription, price_id: str, proration: str = ""
) -> RemoteSubscription:
    """Switch the single item to another price.

    `proration` is Stripe's `proration_behavior` ("create_prorations": credit and
    charge the difference on the next invoice, "always_invoice": invoice it now,
    "none"); empty: Stripe's default (prorate). localstripe knows only the legacy
    `prorate` flag, used when the current parameter is refused.
    """
    params: dict[str, Any] = {"items": [{"id": subscription.item_id, **item_for(price_id)}]}
    if proration and proration not in PRORATIONS:
        raise ValueError(f"unknown proration behaviour {proration!r}")
    c = client()
    try:
        with _call():
            updated = c.v1.subscriptions.update(
                subscription.id,
                params={**params, **({"proration_behavior": proration} if proration else {})},
            )
    except (stripe.InvalidRequestError, BillingUnavailable):
        if not proration:
            raise
        with _call():  # localstripe (legacy API): prorate=true/false
            updated = c.v1.subscriptions.update(
                subscription.id, params={**params, "prorate": proration != "none"}
            )
    return _subscription(updated)


def subscription_set_cancel_at_period_end(
    *, subscription_id: str, cancel: bool
) -> RemoteSubscription:
    with _call():
        return _subscription(
            client().v1.subscriptions.update(
                subscription_id, params={"cancel_at_period_end": cancel}
            )
        )


def subscription_cancel_now(subscription_id: str) -> RemoteSubscription:
    with _call():
        return _subscription(client().v1.subscriptions.cancel(subscription_id))


# -- invoices and payments ----------------------------------------------------


def invoice_get(invoice_id: str) -> RemoteInvoice:
    with _call():
        return _invoice(client().v1.invoices.retrieve(invoice_id))


def invoice_list(*, customer_id: str, limit: int = 24) -> list[RemoteInvoice]:
    """The customer's most recent invoices (drafts included), newest first."""
    with _call():
        page = client().v1.invoices.list(params={"customer": customer_id, "limit": limit})
    return [_invoice(inv) for inv in page.data]


def invoice_create_for_subscription(
    *, customer_id: str, subscription_id: str
) -> RemoteInvoice | None:
    """Invoice pending proration items now (an upgrade is charged at once). None if nothing pending."""
    try:
        with _call():
            invoice = client().v1.invoices.create(
                params={"customer": customer_id, "subscription": subscription_id}
            )
    except stripe.InvalidRequestError as exc:  # "Nothing to invoice for customer"
        logger.info("no proration invoice for %s: %s", subscription_id, exc)
        return None
    return _invoice(invoice)


def invoice_pay(invoice_id: str) -> PaymentAttempt:
    """Try to pay an open (or draft) invoice with the customer's default card."""
    error = ""
    try:
        with _call():
            client().v1.invoices.pay(invoice_id)
    except PaymentDeclined as exc:
        error = exc.message
    except stripe.InvalidRequestError as exc:
        # already paid, or no card: the re-read below tells which
        error = exc.user_message or str(exc)
    invoice = invoice_get(invoice_id)
    if invoice.status != "paid" and not error:
        error = "The card was declined."
    return PaymentAttempt(invoice=invoice, error="" if invoice.status == "paid" else error)


REFUND_METADATA_KEY = "mailherd_refund"


def refund_create(
    *, payment_intent_id: str, amount: int, invoice_id: str, idempotency_key: str
) -> RemoteRefund:
    """Refund `amount` cents of a payment. The same key never refunds twice (Stripe keeps
    keys 24 hours); the key is also kept in the refund's metadata, so the webhook mirror
    recognises the refund as ours."""
    with _call():
        refund = client().v1.refunds.create(
            params={
                "payment_intent": payment_intent_id,
                "amount": amount,
                "metadata": {"invoice": invoice_id, REFUND_METADATA_KEY: idempotency_key},
            },
            options={"idempotency_key": f"mailherd-refund-{idempotency_key}"},
        )
    return RemoteRefund(id=refund.id, amount=int(refund.amount), status=refund.status or "")


@dataclass(frozen=True)
class RemoteChargeRefund:
    id: str
    amount: int
    status: str
    key: str  # our idempotency key, when Mailherd made the refund


@dataclass(frozen=True)
class RemoteCharge:
    id: str
    payment_intent_id: str
    invoice_id: str
    amount_refunded: int
    refunds: list[RemoteChargeRefund]


def charge_get(charge_id: str) -> RemoteCharge:
    """A charge with all its refunds (however they were made: here or in Stripe's dashboard)."""
    c = client()
    with _call():
        charge = _d(c.v1.charges.retrieve(charge_id))
        refunds = c.v1.refunds.list(params={"charge": charge_id, "limit": 100})
    items = [_d(r) for r in refunds.data]
    return RemoteCharge(
        id=charge["id"],
        payment_intent_id=_id(charge.get("payment_intent")),
        invoice_id=_id(charge.get("invoice")),
        amount_refunded=int(
            charge.get("amount_refunded") or sum(int(r.get("amount") or 0) for r in items)
        ),
        refunds=[
            RemoteChargeRefund(
                id=r["id"],
                amount=int(r.get("amount") or 0),
                status=r.get("status") or "",
                key=(r.get("metadata") or {}).get(REFUND_METADATA_KEY, ""),
            )
            for r in items
        ],
    )


# -- catalogue ----------------------------------------------------------------


def product_and_price_create(
    *, name: str, slug: str, amount_cents: int, currency: str, interval: str = "month"
) -> tuple[str, str]:
    """Create a product and a recurring price for a plan; a legacy Plan where Prices are unknown.

    Return (product_id, price_or_plan_id). The plan's slug is kept in the
    price's metadata so that the sync can map a subscription back to a plan.
    """
    with _call():
        product = client().v1.products.create(
            params={"name": name, "metadata": {PLAN_METADATA_KEY: slug}}
        )
    price_id = price_create(
        product_id=product.id,
        slug=slug,
        amount_cents=amount_cents,
        currency=currency,
        interval=interval,
    )
    return product.id, price_id


def price_amount(price_id: str) -> int | None:
    """The unit amount (cents) of a Price or legacy Plan; None if Stripe does not know it."""
    c = client()
    try:
        with _call():
            if price_id.startswith("plan_"):
                return int(_d(c.v1.plans.retrieve(price_id)).get("amount") or 0)
            return int(_d(c.v1.prices.retrieve(price_id)).get("unit_amount") or 0)
    except stripe.InvalidRequestError:
        return None


def price_create(
    *, product_id: str, slug: str, amount_cents: int, currency: str, interval: str = "month"
) -> str:
    """A new recurring price on an existing product (a legacy Plan where Prices are unknown)."""
    c = client()
    metadata = {PLAN_METADATA_KEY: slug}
    try:
        price = c.v1.prices.create(
            params={
                "product": product_id,
                "unit_amount": amount_cents,
                "currency": currency,
                "recurring": {"interval": interval},
                "metadata": metadata,
            }
        )
        return price.id
    except (stripe.InvalidRequestError, stripe.APIError) as exc:  # localstripe: no /v1/prices
        if getattr(exc, "http_status", None) != 404:
            raise
        with _call():
            plan = c.v1.plans.create(
                params={
                    "product": product_id,
                    "amount": amount_cents,
                    "currency": currency,
                    "interval": interval,
                    "metadata": metadata,
                }
            )
        return plan.id


# -- webhooks -----------------------------------------------------------------


def webhook_event_verify(*, payload: bytes, signature: str) -> dict:
    """Verify the Stripe-Signature header on the raw body and return the event as a dict.

    Raise ValueError (bad JSON) or stripe.SignatureVerificationError.
    """
    import json

    secret = getattr(settings, "STRIPE_WEBHOOK_SECRET", None)
    if not secret:
        raise stripe.SignatureVerificationError("No webhook secret configured", signature)
    text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    stripe.WebhookSignature.verify_header(text, signature, secret, stripe.Webhook.DEFAULT_TOLERANCE)
    event = json.loads(text)
    # Signed but not an event (a JSON array, a bare value): refused like a bad signature.
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise ValueError("the body is not a Stripe event object")
    return event
