"""Lifecycle events reach a real receiver signed, once, in order, and only for committed changes."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.hosting.services import alias_create, mailbox_create, mailbox_delete, mailbox_update
from mailherd.webhooks import services
from mailherd.webhooks.delivery import MAX_ATTEMPTS, RETRY_SCHEDULE, deliveries_run
from mailherd.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(tenants):
    verified_domain(tenants.acme, "acme.test")
    return tenants.acme


@pytest.fixture
def endpoint(acme, tenants, receiver):
    endpoint, secret = services.endpoint_create(
        actor=Actor.for_user(tenants.alice),
        organization=acme,
        url=receiver.url,
        events=["mailbox.created", "mailbox.updated", "mailbox.deleted", "alias.created"],
    )
    receiver.secret = secret
    return endpoint


def _make_mailbox(organization, local="ann"):
    return mailbox_create(
        actor=Actor.system(), organization=organization, address=f"{local}@acme.test", quota_mb=100
    )[0]


def _run_until_quiet(start, *, steps=12):
    """Run the worker repeatedly, each time just past the next retry time."""
    now = start
    for _ in range(steps):
        deliveries_run(now=now)
        pending = (
            WebhookDelivery.objects.filter(status="pending").order_by("next_attempt_at").first()
        )
        if pending is None:
            return now
        now = max(now, pending.next_attempt_at) + timedelta(seconds=1)
    return now


def test_a_created_mailbox_arrives_signed_with_the_object(acme, endpoint, receiver):
    _make_mailbox(acme)
    assert deliveries_run() == 1
    [event] = receiver.received
    assert event["type"] == "mailbox.created"
    assert event["id"].startswith("evt_") and event["timestamp"]
    assert event["organization"] == "acme"
    assert event["data"] == {
        "address": "ann@acme.test",
        "domain": "acme.test",
        "name": "",
        "quota_mb": 100,
        "active": True,
    }
    headers = receiver.headers[0]
    assert headers["webhook-id"] == event["id"]
    assert headers["webhook-signature"].startswith("v1,")
    assert receiver.refused == 0
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "succeeded"
    assert [a.status_code for a in delivery.attempt_log.all()] == [200]


def test_after_three_500s_the_event_arrives_once(acme, endpoint, receiver):
    receiver.answers = [500, 500, 500]
    _make_mailbox(acme)
    end = _run_until_quiet(timezone.now())
    deliveries_run(now=end + timedelta(days=2))  # nothing more goes out later
    assert receiver.requests == 4
    assert len(receiver.received) == 1
    assert receiver.received[0]["type"] == "mailbox.created"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "succeeded" and delivery.attempts == 4
    log = list(delivery.attempt_log.all())
    assert [a.status_code for a in log] == [500, 500, 500, 200]
    assert log[0].error == "The endpoint answered 500." and '"answer": 500' in log[0].response_body
    # Backoff: each retry waited at least its step of the schedule.
    for previous, attempt, wait in zip(log, log[1:], RETRY_SCHEDULE, strict=False):
        assert attempt.attempted_at - previous.attempted_at >= wait


def test_a_rolled_back_change_sends_nothing(acme, endpoint, receiver):
    with pytest.raises(RuntimeError), transaction.atomic():
        _make_mailbox(acme)
        raise RuntimeError("the request failed after the mailbox was written")
    assert WebhookDelivery.objects.count() == 0
    deliveries_run()
    assert receiver.requests == 0


def test_events_of_one_object_arrive_in_order_while_retrying(acme, endpoint, receiver):
    receiver.answers = [503]  # ann's creation fails once; bob's goes through
    _make_mailbox(acme)
    mailbox_update(actor=Actor.system(), organization=acme, address="ann@acme.test", quota_mb=200)
    mailbox_delete(actor=Actor.system(), organization=acme, address="ann@acme.test")
    _make_mailbox(acme, "bob")  # another object does not wait behind ann's retries
    now = timezone.now()
    deliveries_run(now=now)
    assert [e["data"]["address"] for e in receiver.received] == ["bob@acme.test"]
    _run_until_quiet(now)
    ann = [e["type"] for e in receiver.received if e["data"]["address"] == "ann@acme.test"]
    assert ann == ["mailbox.created", "mailbox.updated", "mailbox.deleted"]
    updated = next(e for e in receiver.received if e["type"] == "mailbox.updated")
    assert updated["data"]["quota_mb"] == 200 and updated["data"]["changed"] == ["quota_mb"]


def test_only_subscribed_events_are_sent(acme, endpoint, receiver):
    _make_mailbox(acme)
    deliveries_run()
    receiver.received.clear()
    alias_create(
        actor=Actor.system(), organization=acme, address="info@acme.test", goto=["ann@acme.test"]
    )
    services.endpoint_update(
        actor=Actor.system(), organization=acme, endpoint_id=endpoint.pk, events=["mailbox.deleted"]
    )
    alias_create(
        actor=Actor.system(), organization=acme, address="sales@acme.test", goto=["ann@acme.test"]
    )
    _make_mailbox(acme, "bob")
    deliveries_run()
    assert [e["type"] for e in receiver.received] == ["alias.created"]
    assert receiver.received[0]["data"]["goto"] == ["ann@acme.test"]


def test_a_wrong_secret_is_caught_by_the_receiver(acme, endpoint, receiver):
    receiver.secret = services.webhook_secret_generate()
    _make_mailbox(acme)
    deliveries_run()
    assert receiver.refused == 1 and receiver.received == []
    assert WebhookDelivery.objects.get().attempt_log.get().status_code == 401


def test_gives_up_after_a_day_turns_the_endpoint_off_and_emails_the_owners(
    acme, endpoint, receiver, tenants
):
    receiver.answers = [500] * 100
    _make_mailbox(acme)
    _run_until_quiet(timezone.now(), steps=MAX_ATTEMPTS + 2)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == MAX_ATTEMPTS
    endpoint.refresh_from_db()
    assert endpoint.enabled is False
    assert "after failing since" in endpoint.disabled_reason
    [message] = [m for m in mail.outbox if "Webhook endpoint turned off" in m.subject]
    assert message.to == [tenants.alice.email]
    assert receiver.url in message.body
    # While off, new events wait; turned back on, they go out.
    receiver.answers = []
    _make_mailbox(acme, "carl")
    deliveries_run()
    assert receiver.received == []
    services.endpoint_update(
        actor=Actor.system(), organization=acme, endpoint_id=endpoint.pk, enabled=True
    )
    deliveries_run()
    assert [e["data"]["address"] for e in receiver.received] == ["carl@acme.test"]


def test_send_again_repeats_the_event_with_its_id(acme, endpoint, receiver):
    _make_mailbox(acme)
    deliveries_run()
    first = WebhookDelivery.objects.get()
    again = services.delivery_resend(actor=Actor.system(), organization=acme, delivery_id=first.pk)
    deliveries_run()
    assert again.event_id == first.event_id
    assert [e["id"] for e in receiver.received] == [first.event_id, first.event_id]


def test_webhook_send_delivers_to_any_url_for_other_features(acme, receiver):
    """What a rule's webhook action uses: its own URL and secret, a source reference."""
    secret = services.webhook_secret_generate()
    receiver.secret = secret
    receiver.answers = [500]
    delivery = services.webhook_send(
        url=receiver.url,
        secret=secret,
        event_type="rule.matched",
        data={"subject": "Invoice"},
        source="rule:7",
        organization=acme,
        object_key="rule:7",
    )
    _run_until_quiet(timezone.now())
    assert [e["data"] for e in receiver.received] == [{"subject": "Invoice"}]
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 2 and delivery.source == "rule:7"


def test_a_target_that_became_private_is_refused_at_send_time(acme, endpoint, receiver, settings):
    settings.MAILHERD_ALLOW_PRIVATE_TARGETS = False
    _make_mailbox(acme)
    deliveries_run()
    assert receiver.requests == 0
    attempt = WebhookDelivery.objects.get().attempt_log.get()
    assert "loopback" in attempt.error


def test_the_secret_is_encrypted_at_rest(endpoint, receiver):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_webhookendpoint WHERE id = %s", [endpoint.pk])
        stored = cursor.fetchone()[0]
    assert receiver.secret.startswith("whsec_")
    assert receiver.secret not in stored
    assert WebhookEndpoint.objects.get().secret == receiver.secret


def test_private_urls_are_refused_when_registering(acme, tenants, settings):
    from mailherd.core.netguard import TargetNotAllowed

    settings.MAILHERD_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(TargetNotAllowed):
        services.endpoint_create(
            actor=Actor.system(),
            organization=acme,
            url="https://169.254.169.254/",
            events=["mailbox.created"],
        )
