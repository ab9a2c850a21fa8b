"""Platform mailboxes end to end: localstripe for billing, the Mailcow simulator over HTTP for mail.

The operator's organization owns members.test, verified and named the platform domain. When Acme
subscribes on localstripe, its members get `<name>@members.test` on the simulator; dunning suspends
it with Acme's own mailboxes (`active=2`), paying restores it (`active=1`); a member who leaves is
warned by email and the address is removed after the grace period. It never counts against Acme's
plan, and nobody outside Acme sees it.
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from mailherd.billing.dunning import dunning_sweep
from mailherd.billing.models import Subscription
from mailherd.core.actors import Actor
from mailherd.core.errors import ValidationFailed
from mailherd.hosting.models import Mailbox, ProvisioningOp
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services import mailbox_create, mailbox_delete
from mailherd.hosting.services.platform import platform_domain_set, platform_mailboxes_sweep
from mailherd.mailcow.services import client_for
from mailherd.plans.selectors import organization_usage_counts
from mailherd.tenancy.models import Membership, Organization
from mailherd.tenancy.services import membership_remove
from tests.billing.conftest import FAILS_ON_CHARGE, add_card, post_event, subscribe
from tests.billing.test_dunning import _renewal_fails
from tests.conftest import make_org, make_user
from tests.hosting.conftest import mail_server, sim, verified_domain  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PLATFORM = "members.test"


def _remote(server, address: str):
    return client_for(server).get_mailbox(address)


def _active(server, address: str) -> int:
    remote = _remote(server, address)
    assert remote is not None, f"{address} is missing on the simulator"
    return int(remote.active)


def _drain() -> None:
    outbox_drain()
    unfinished = ProvisioningOp.objects.exclude(status=ProvisioningOp.Status.DONE)
    assert not unfinished.exists(), list(unfinished.values("object_key", "status", "last_error"))


@pytest.fixture
def platform(mail_server, operator_user):  # noqa: F811
    """The operator's own organization with members.test verified, named the platform domain."""
    owner = make_user("postmaster@operator.test")
    operator_org = make_org(owner, "Operator")
    verified_domain(operator_org, PLATFORM)
    platform_domain_set(actor=Actor.for_user(operator_user), name=PLATFORM)
    _drain()
    return operator_org


@pytest.fixture
def acme_paid(localstripe, tenants, platform, mail_server):  # noqa: F811
    """Acme on Enterprise with its own domain and mailbox, and its member's platform address."""
    org = tenants.acme
    subscribe(org, "enterprise")
    org.refresh_from_db()
    verified_domain(org, "acme.test")
    mailbox_create(actor=Actor.system(), organization=org, address="team@acme.test", quota_mb=10)
    _drain()
    return org


def test_a_subscription_on_localstripe_gives_each_member_a_platform_mailbox_not_counted_in_the_plan(
    acme_paid, tenants, mail_server  # noqa: F811
):
    mailbox = Mailbox.objects.get(is_system=True, user=tenants.alice)
    assert mailbox.address == f"alice@{PLATFORM}" and mailbox.organization == acme_paid
    assert _active(mail_server, mailbox.address) == 1
    # the plan counts only Acme's own mailbox
    assert organization_usage_counts(organization=acme_paid, names=("mailboxes", "storage_mb")) == {
        "mailboxes": 1,
        "storage_mb": 10,
    }
    # nobody else got one: Globex does not pay
    assert not Mailbox.objects.filter(is_system=True, user=tenants.bob).exists()
    # idempotent: a later sweep adds nothing
    assert platform_mailboxes_sweep() == {"created": 0, "removed": 0}


def test_dunning_suspends_the_platform_mailbox_with_the_rest_and_payment_restores_it(
    acme_paid, client, mail_server  # noqa: F811
):
    org = acme_paid
    address = f"alice@{PLATFORM}"
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
    assert org.status == Organization.Status.SUSPENDED
    _drain()
    assert _active(mail_server, "team@acme.test") == 2
    assert _active(mail_server, address) == 2  # logins refused, mail still received: like the rest

    add_card(org)  # a good card: the open invoice is paid at once
    org.refresh_from_db()
    assert org.status == Organization.Status.ACTIVE
    _drain()
    assert _active(mail_server, address) == 1
    assert _active(mail_server, "team@acme.test") == 1


def test_a_member_who_leaves_is_warned_and_the_address_goes_after_the_grace_period(
    acme_paid, tenants, mail_server, settings  # noqa: F811
):
    carol = make_user("carol@acme.test")
    carol.full_name = "Carol Dané"
    carol.save()
    Membership.objects.create(organization=acme_paid, user=carol, role="member")
    assert platform_mailboxes_sweep()["created"] == 1  # the periodic pass gives new members theirs
    _drain()
    address = f"carol.dane@{PLATFORM}"
    assert _active(mail_server, address) == 1

    owner = Membership.objects.get(organization=acme_paid, user=tenants.alice)
    member = Membership.objects.get(organization=acme_paid, user=carol)
    mail.outbox.clear()
    membership_remove(actor=Actor.for_user(tenants.alice), membership=owner, member_id=member.pk)
    [warning] = mail.outbox
    assert warning.to == ["carol@acme.test"] and address in warning.subject
    assert "no longer a member of Acme" in warning.body
    mailbox = Mailbox.objects.get(address=address)
    days = settings.MAILHERD_PLATFORM_MAILBOX_GRACE_DAYS
    assert mailbox.remove_at.date() == (timezone.now() + timedelta(days=days)).date()

    # still there during the grace period
    assert platform_mailboxes_sweep(now=timezone.now() + timedelta(days=days - 1))["removed"] == 0
    _drain()
    assert _remote(mail_server, address) is not None
    # then removed, here and on the server
    assert platform_mailboxes_sweep(now=timezone.now() + timedelta(days=days + 1))["removed"] == 1
    _drain()
    assert _remote(mail_server, address) is None
    assert not Mailbox.objects.filter(address=address).exists()
    # Alice's stays
    assert _active(mail_server, f"alice@{PLATFORM}") == 1


def test_the_customer_sees_it_marked_cannot_delete_it_and_outsiders_never_see_it(
    acme_paid, tenants, client
):
    address = f"alice@{PLATFORM}"
    client.force_login(tenants.alice)
    page = client.get(f"/o/{acme_paid.slug}/mailboxes/")
    assert page.status_code == 200 and address in page.text and "Platform address" in page.text
    with pytest.raises(ValidationFailed, match="platform address"):
        mailbox_delete(actor=Actor.for_user(tenants.alice), organization=acme_paid, address=address)

    client.force_login(tenants.bob)
    assert client.get(f"/o/{tenants.globex.slug}/mailboxes/{address}/").status_code == 404
    assert client.get(f"/o/{acme_paid.slug}/mailboxes/{address}/").status_code in (403, 404)
    assert address not in client.get(f"/o/{tenants.globex.slug}/mailboxes/").text


def test_an_ended_subscription_warns_and_a_reactivation_before_the_grace_keeps_the_address(
    acme_paid, tenants, client, mail_server, settings  # noqa: F811
):
    from mailherd.billing import services
    from tests.billing.conftest import owner_membership, stripe_client

    address = f"alice@{PLATFORM}"
    subscription = Subscription.objects.get(organization=acme_paid)
    stripe_client().v1.subscriptions.cancel(subscription.stripe_subscription_id)
    mail.outbox.clear()
    response = post_event(
        client,
        "customer.subscription.deleted",
        {"id": subscription.stripe_subscription_id, "object": "subscription",
         "customer": subscription.stripe_customer_id},
    )
    assert response.status_code == 200
    warning = next(m for m in mail.outbox if address in m.subject)
    assert warning.to == ["alice@acme.test"] and "subscription of Acme has ended" in warning.body
    assert Mailbox.objects.get(address=address).remove_at is not None
    _drain()
    assert _active(mail_server, address) == 2  # suspended with the rest meanwhile

    membership = owner_membership(acme_paid)
    services.subscription_reactivate(actor=Actor.for_user(membership.user), membership=membership)
    assert Mailbox.objects.get(address=address).remove_at is None  # kept
    days = settings.MAILHERD_PLATFORM_MAILBOX_GRACE_DAYS
    assert platform_mailboxes_sweep(now=timezone.now() + timedelta(days=days + 1))["removed"] == 0
    _drain()
    assert _active(mail_server, address) == 1



def test_the_customer_may_rename_it_and_change_its_password_but_not_its_size_or_member(acme_paid, tenants):
    from mailherd.hosting.services import mailbox_update

    address, actor = f"alice@{PLATFORM}", Actor.for_user(tenants.alice)
    # the settings form sends every field: unchanged size and member are fine
    mailbox = mailbox_update(actor=actor, organization=acme_paid, address=address, name="Alice M.",
                             quota_mb=1024, user="alice@acme.test", password="a-new-secret-1234")
    assert mailbox.name == "Alice M." and mailbox.password_hash.startswith("{BLF-CRYPT}")
    with pytest.raises(ValidationFailed, match="size"):
        mailbox_update(actor=actor, organization=acme_paid, address=address, quota_mb=5000)
    with pytest.raises(ValidationFailed, match="belongs to the member"):
        mailbox_update(actor=actor, organization=acme_paid, address=address, user="")


def test_the_api_says_it_is_a_platform_address_and_the_data_deletion_stage_removes_it(
    acme_paid, tenants, mail_server  # noqa: F811
):
    from mailherd.hosting.api import mailbox_out
    from mailherd.hosting.services import organization_mail_suspend
    from mailherd.hosting.services.suspension import organization_mail_delete

    mailbox = Mailbox.objects.get(is_system=True, user=tenants.alice)
    out = mailbox_out(mailbox, acme_paid)
    assert out["platform_address"] is True and out["remove_at"] is None
    system = Actor.system()
    organization_mail_suspend(actor=system, organization_id=acme_paid.pk)
    organization_mail_delete(actor=system, organization_id=acme_paid.pk)
    _drain()
    assert _remote(mail_server, mailbox.address) is None
    assert not Mailbox.objects.filter(pk=mailbox.pk).exists()
    # the operator's platform domain itself is untouched
    assert client_for(mail_server).get_domain(PLATFORM) is not None
