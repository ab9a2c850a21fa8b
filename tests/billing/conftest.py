"""Billing fixtures: a real localstripe on a free loopback port, plans linked to it, signed events.

localstripe is started once per session by `localstripe_server.py` (loopback
only, in memory only) and emptied before each test. Tests that need it skip
cleanly when the package is not installed.
"""

import hashlib
import hmac
import importlib
import json
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import stripe

from mailherd.billing import gateway, services
from mailherd.core.actors import Actor
from mailherd.plans.models import Plan
from mailherd.tenancy.models import Membership

logging.getLogger("stripe").setLevel(logging.WARNING)

LAUNCHER = Path(__file__).with_name("localstripe_server.py")
SECRET_KEY = "sk_test_mailherd"
PUBLISHABLE_KEY = "pk_test_mailherd"
WEBHOOK_SECRET = "whsec_mailherd_test"

GOOD_CARD = "4242424242424242"
FAILS_ON_CHARGE = "4000000000000341"  # attaches fine, every charge is declined


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _seeded_plans(request):
    """Make sure the seeded plans exist, even after a live-server test flushed them.

    pytest-django's serialized rollback does not always restore them for the
    test that follows a live_server test; the seeding migration is idempotent.
    """
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("db")
    if not Plan.objects.filter(slug="starter").exists():
        from django.apps import apps

        importlib.import_module("mailherd.plans.migrations.0002_seed_plans").seed(apps, None)


@pytest.fixture(scope="session")
def localstripe_url():
    pytest.importorskip("localstripe", reason="pip install localstripe to run the Stripe tests")
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(LAUNCHER), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            httpx.get(url + "/v1/customers", auth=(SECRET_KEY, ""), timeout=1)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("localstripe did not start")
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def stripe_settings(settings):
    """Billing switched on, without a Stripe server (signature tests, pages)."""
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # discard port: any call fails fast
    return settings


@pytest.fixture
def localstripe(localstripe_url, stripe_settings, db):
    """An empty localstripe, billing pointed at it, and the seeded plans linked to it."""
    httpx.delete(localstripe_url + "/_config/data", timeout=5).raise_for_status()
    stripe_settings.STRIPE_API_BASE = localstripe_url
    Plan.objects.update(stripe_product_id="", stripe_price_id="")
    for plan in Plan.objects.all():
        services.plan_stripe_link(actor=Actor.system(), plan=plan)
    return localstripe_url


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


_event_counter = iter(range(1, 10**9))


def post_event(
    client, event_type: str, obj: dict, *, event_id: str | None = None, secret=WEBHOOK_SECRET
):
    """POST a signed event like Stripe would; return the response."""
    event = {
        "id": event_id or f"evt_test_{next(_event_counter)}_{int(time.time() * 1000)}",
        "object": "event",
        "type": event_type,
        "api_version": "2017-08-15",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }
    body = json.dumps(event).encode()
    return client.post(
        "/billing/stripe/webhook/",
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": sign(body, secret)},
    )


def confirm_card(client_secret: str, number: str) -> str:
    """Do what Stripe.js does in the browser: confirm the SetupIntent with card details."""
    intent_id = client_secret.split("_secret_")[0]
    intent = gateway.client().v1.setup_intents.confirm(
        intent_id,
        params={
            "payment_method_data": {
                "type": "card",
                "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
            }
        },
    )
    return intent.id


def owner_membership(organization) -> Membership:
    return Membership.objects.select_related("organization", "user").get(
        organization=organization, role="owner"
    )


def add_card(organization, number: str = GOOD_CARD):
    membership = owner_membership(organization)
    actor = Actor.for_user(membership.user)
    secret = services.card_setup_start(actor=actor, membership=membership)
    return services.card_update(
        actor=actor, membership=membership, setup_intent_id=confirm_card(secret, number)
    )


def subscribe(organization, plan_slug: str, number: str = GOOD_CARD):
    add_card(organization, number)
    membership = owner_membership(organization)
    return services.subscription_start(
        actor=Actor.for_user(membership.user), membership=membership, plan_slug=plan_slug
    )


def stripe_client() -> stripe.StripeClient:
    return gateway.client()
