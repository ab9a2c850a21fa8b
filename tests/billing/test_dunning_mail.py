"""Dunning end to end with the organization's mail on the Mailcow simulator.

Acme subscribes with a good card, gets a verified domain with two mailboxes on
the simulator and disables one of them; the changes go through the outbox.
Then the card fails on renewal → past due → retries and escalating emails on
days 1, 3, 5 (clock passed to the sweep, no sleeps) → suspended on day 7 →
after the outbox runs, the enabled mailbox refuses logins but still receives
mail (Mailcow `active=2`) and the disabled one stays off (`0`) → the customer
enters a good card → paid at once → restored → after the outbox runs, the
enabled mailbox is back to `1` and the one the customer disabled is still `0`.
"""

from datetime import timedelta

import pytest
from django.core import mail

from mailherd.billing.dunning import dunning_sweep
from mailherd.billing.models import Subscription
from mailherd.core.actors import Actor
from mailherd.hosting.models import Mailbox, ProvisioningOp
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services import mailbox_create, mailbox_update
from mailherd.mailcow.services import client_for
from mailherd.tenancy.models import Organization
from tests.billing.conftest import FAILS_ON_CHARGE, add_card, post_event, subscribe
from tests.billing.test_dunning import _emails, _renewal_fails
from tests.hosting.conftest import mail_server, sim, verified_domain  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

ENABLED = "team@acme.test"
DISABLED = "old@acme.test"


def _active(server, address: str) -> int:
    """Mailcow's `active` flag of a mailbox on the simulator (1 on, 0 off, 2 login refused)."""
    remote = client_for(server).get_mailbox(address)
    assert remote is not None, f"{address} is missing on the simulator"
    return int(remote.active)


def _drain() -> None:
    """Apply the provisioning outbox and check nothing was left behind or parked."""
    outbox_drain()
    unfinished = ProvisioningOp.objects.exclude(status=ProvisioningOp.Status.DONE)
    assert not unfinished.exists(), list(unfinished.values("object_key", "status", "last_error"))


@pytest.fixture
def acme_mail(localstripe, tenants, mail_server):  # noqa: F811
    """Acme on Enterprise, paid, with acme.test and two mailboxes live on the simulator."""
    org = tenants.acme
    subscribe(org, "enterprise")
    org.refresh_from_db()
    system = Actor.system()
    verified_domain(org, "acme.test")
    mailbox_create(actor=system, organization=org, address=ENABLED, quota_mb=10)
    mailbox_create(actor=system, organization=org, address=DISABLED, quota_mb=10)
    # the customer turns one mailbox off: it must stay off through suspension and restore
    mailbox_update(actor=system, organization=org, address=DISABLED, enabled=False)
    _drain()
    return org


def test_dunning_suspends_logins_on_mailcow_and_payment_restores_each_mailbox_as_it_was(
    acme_mail,
    mail_server,  # noqa: F811  (the fixture imported above)
    client,
):
    org = acme_mail
    # given: mail live on the simulator, one mailbox disabled by the customer
    assert _active(mail_server, ENABLED) == 1
    assert _active(mail_server, DISABLED) == 0

    # when the card on file starts failing and the renewal is declined
    add_card(org, FAILS_ON_CHARGE)
    subscription = Subscription.objects.get(organization=org)
    invoice_id = _renewal_fails(subscription)
    response = post_event(
        client,
        "invoice.payment_failed",
        {"id": invoice_id, "object": "invoice", "customer": subscription.stripe_customer_id},
    )
    assert response.status_code == 200

    # then: past due, the first email, the mail untouched
    row = Subscription.objects.get(pk=subscription.pk)
    start = row.dunning_started_at
    assert row.status == "past_due" and start is not None
    assert _emails(org) == ["billing_payment_failed"]
    assert "/billing/card/" in mail.outbox[-1].body
    _drain()
    assert (_active(mail_server, ENABLED), _active(mail_server, DISABLED)) == (1, 0)

    def sweep_at(days: float) -> Subscription:
        dunning_sweep(now=start + timedelta(days=days))
        org.refresh_from_db()
        return Subscription.objects.get(pk=subscription.pk)

    # retries and emails on schedule; nothing changes on the mail server before the grace period
    assert sweep_at(1).dunning_retries == 1
    assert _emails(org) == ["billing_payment_failed"]
    assert sweep_at(3).dunning_retries == 2
    assert _emails(org)[-1] == "billing_payment_reminder"
    row = sweep_at(5)
    assert row.dunning_retries == 3 and row.status == "past_due"
    assert _emails(org)[-1] == "billing_final_notice"
    assert org.status == Organization.Status.ACTIVE
    _drain()
    assert (_active(mail_server, ENABLED), _active(mail_server, DISABLED)) == (1, 0)

    # past the grace period (the last retry fails too): suspended
    row = sweep_at(7)
    assert row.dunning_retries == 4 and row.suspended_by_billing
    assert org.status == Organization.Status.SUSPENDED
    assert _emails(org) == [
        "billing_payment_failed",
        "billing_payment_reminder",
        "billing_final_notice",
        "billing_suspended",
    ]
    # the change reaches Mailcow only through the outbox
    assert ProvisioningOp.objects.filter(status=ProvisioningOp.Status.PENDING).exists()
    assert (_active(mail_server, ENABLED), _active(mail_server, DISABLED)) == (1, 0)
    _drain()
    assert _active(mail_server, ENABLED) == 2  # login refused, incoming mail still accepted
    assert _active(mail_server, DISABLED) == 0  # the customer's choice, untouched

    # a later sweep neither re-sends nor changes the mail server
    sweep_at(10)
    _drain()
    assert len(_emails(org)) == 4
    assert (_active(mail_server, ENABLED), _active(mail_server, DISABLED)) == (2, 0)

    # when the customer enters a good card, the open invoice is paid at once
    add_card(org)

    org.refresh_from_db()
    row = Subscription.objects.get(pk=subscription.pk)
    assert row.status == "active" and not row.in_dunning and not row.suspended_by_billing
    assert org.status == Organization.Status.ACTIVE
    assert _emails(org)[-1] == "billing_restored"
    _drain()
    assert _active(mail_server, ENABLED) == 1  # logins accepted again
    assert _active(mail_server, DISABLED) == 0  # still disabled, as the customer left it
    assert dict(Mailbox.objects.filter(organization=org).values_list("address", "enabled")) == {
        ENABLED: True,
        DISABLED: False,
    }
