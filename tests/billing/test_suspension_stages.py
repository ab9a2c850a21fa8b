"""The later stages of a billing suspension, driven by the dunning sweep and a clock (no sleeps).

Acme's renewal fails for good (card 4000000000000341): suspended on day 7
(logins refused, mail received: Mailcow active=2) → 30 days later mailboxes and
the domain are deactivated (mail refused) → warnings 14 and 3 days before the
deletion, each once → 90 days after the suspension its domains are removed here
and on the simulator; the account and invoices stay. Paying during stage 2
returns everything to what it was. See docs/billing.md.
"""

from datetime import timedelta

import pytest
from django.core import mail

from mailherd.billing.dunning import dunning_sweep
from mailherd.billing.models import DunningNotice, Invoice, Subscription
from mailherd.hosting.models import Domain, Mailbox
from mailherd.mailcow.services import client_for
from mailherd.tenancy.models import Organization
from tests.billing.conftest import FAILS_ON_CHARGE, add_card, post_event
from tests.billing.test_dunning import _emails, _renewal_fails
from tests.billing.test_dunning_mail import DISABLED, ENABLED, _active, _drain, acme_mail  # noqa: F401
from tests.hosting.conftest import mail_server, sim  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

Stage = Organization.SuspensionStage
DUNNING = [
    "billing_payment_failed",
    "billing_payment_reminder",
    "billing_final_notice",
    "billing_suspended",
]


def _domain_active(server) -> bool:
    remote = client_for(server).get_domain("acme.test")
    assert remote is not None, "acme.test is missing on the simulator"
    return remote.active


@pytest.fixture
def suspended(acme_mail, mail_server, client):  # noqa: F811
    """Acme's renewal failed and the sweep walked the schedule to the suspension on day 7."""
    org = acme_mail
    add_card(org, FAILS_ON_CHARGE)
    subscription = Subscription.objects.get(organization=org)
    invoice_id = _renewal_fails(subscription)
    response = post_event(
        client,
        "invoice.payment_failed",
        {"id": invoice_id, "object": "invoice", "customer": subscription.stripe_customer_id},
    )
    assert response.status_code == 200
    start = Subscription.objects.get(pk=subscription.pk).dunning_started_at
    for day in (1, 3, 5, 7):
        dunning_sweep(now=start + timedelta(days=day))
    org.refresh_from_db()
    assert (org.status, org.suspension_stage) == ("suspended", Stage.LOGIN_DISABLED)
    assert org.suspended_at == start + timedelta(days=7)
    assert _emails(org) == DUNNING
    _drain()
    assert (_active(mail_server, ENABLED), _active(mail_server, DISABLED)) == (2, 0)
    assert _domain_active(mail_server) is True
    return org


def _sweep(org, days: float) -> Subscription:
    """Sweep `days` after the suspension; return the billing row."""
    dunning_sweep(now=org.suspended_at + timedelta(days=days))
    return Subscription.objects.get(organization=org)


def test_stages_two_and_three_follow_the_clock_and_warn_once_before_deleting(
    suspended,
    mail_server,  # noqa: F811
):
    org = suspended
    since = org.suspended_at
    row = Subscription.objects.get(organization=org)
    assert row.next_dunning_at == since + timedelta(days=30)  # the sweep comes back for stage 2

    _sweep(org, 29)
    _drain()
    org.refresh_from_db()
    assert org.suspension_stage == Stage.LOGIN_DISABLED
    assert _active(mail_server, ENABLED) == 2

    # stage 2, 30 days after the suspension: mail refused, through the outbox
    row = _sweep(org, 30)
    org.refresh_from_db()
    assert (org.status, org.suspension_stage) == ("suspended", Stage.DEACTIVATED)
    assert _active(mail_server, ENABLED) == 2 and _domain_active(mail_server)
    _drain()
    assert (_active(mail_server, ENABLED), _active(mail_server, DISABLED)) == (0, 0)
    assert _domain_active(mail_server) is False
    assert row.next_dunning_at == since + timedelta(days=90 - 14)

    # warnings 14 and 3 days before the deletion, each once
    _sweep(org, 76)
    assert _emails(org) == DUNNING + ["billing_deletion_warning"]
    assert "will be deleted" in mail.outbox[-1].subject
    assert "in 14 days" in mail.outbox[-1].body
    _sweep(org, 80)
    assert _emails(org) == DUNNING + ["billing_deletion_warning"]
    row = _sweep(org, 87)
    assert _emails(org) == DUNNING + ["billing_deletion_warning"] * 2
    assert "in 3 days" in mail.outbox[-1].body
    assert row.next_dunning_at == since + timedelta(days=90)
    _sweep(org, 89)
    assert len(_emails(org)) == len(DUNNING) + 2
    kinds = set(DunningNotice.objects.filter(episode_started_at=since).values_list("kind", flat=True))
    assert kinds == {"billing_deletion_warning_14d", "billing_deletion_warning_3d"}
    assert Domain.objects.filter(organization=org).exists()

    # stage 3, 90 days after the suspension: the domains go, here and on the server
    row = _sweep(org, 90)
    org.refresh_from_db()
    assert (org.status, org.suspension_stage) == ("suspended", Stage.DELETED)
    assert not Domain.objects.filter(organization=org).exists()
    assert not Mailbox.objects.filter(organization=org).exists()
    _drain()
    remote = client_for(mail_server)
    assert remote.get_domain("acme.test") is None
    assert remote.get_mailbox(ENABLED) is None and remote.get_mailbox(DISABLED) is None
    # the account and its invoices stay; nothing more to do, nothing sent twice
    assert Organization.objects.filter(pk=org.pk).exists()
    assert Invoice.objects.filter(organization=org).exists()
    assert row.next_dunning_at is None
    _sweep(org, 200)
    assert len(_emails(org)) == len(DUNNING) + 2


def test_paying_during_stage_two_restores_everything_as_it_was(
    suspended,
    mail_server,  # noqa: F811
):
    org = suspended
    _sweep(org, 30)
    _drain()
    assert (_active(mail_server, ENABLED), _active(mail_server, DISABLED)) == (0, 0)
    assert _domain_active(mail_server) is False

    add_card(org)  # a good card: the open invoice is paid at once

    org.refresh_from_db()
    row = Subscription.objects.get(organization=org)
    assert (org.status, org.suspension_stage, org.suspended_at) == ("active", Stage.NONE, None)
    assert not row.suspended_by_billing and row.next_dunning_at is None
    assert _emails(org)[-1] == "billing_restored"
    _drain()
    assert _domain_active(mail_server) is True
    assert _active(mail_server, ENABLED) == 1
    assert _active(mail_server, DISABLED) == 0  # the customer's choice, kept


@pytest.fixture
def short_stages(settings):
    settings.BILLING_DUNNING_DEACTIVATE_DAYS = 10
    settings.BILLING_DUNNING_DELETE_DAYS = 20
    settings.BILLING_DUNNING_DELETION_WARNING_DAYS = (5, 2)


def test_the_stages_follow_the_operator_s_settings_and_a_late_sweep_still_warns_first(
    short_stages,  # before the suspension, which schedules the next stage
    suspended,
    mail_server,  # noqa: F811
):
    org = suspended
    assert Subscription.objects.get(organization=org).next_dunning_at == org.suspended_at + timedelta(
        days=10
    )

    _sweep(org, 10)
    org.refresh_from_db()
    assert org.suspension_stage == Stage.DEACTIVATED

    # the scheduler was down past the deletion date: the last warning goes out, deletion waits
    row = _sweep(org, 40)
    org.refresh_from_db()
    assert org.suspension_stage == Stage.DEACTIVATED
    assert _emails(org) == DUNNING + ["billing_deletion_warning"]
    assert "in 2 days" in mail.outbox[-1].body
    assert row.next_dunning_at == org.suspended_at + timedelta(days=42)
    _sweep(org, 41)
    assert Domain.objects.filter(organization=org).exists()

    _sweep(org, 42)
    org.refresh_from_db()
    assert org.suspension_stage == Stage.DELETED
    assert not Domain.objects.filter(organization=org).exists()
    _drain()
    assert client_for(mail_server).get_domain("acme.test") is None
    assert _emails(org) == DUNNING + ["billing_deletion_warning"]
