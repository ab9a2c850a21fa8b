import pytest

from mailherd.core.actors import Actor
from mailherd.core.errors import InvalidAddress, NotFound, PermissionDenied, ValidationFailed
from mailherd.hosting import services
from mailherd.hosting.errors import AddressInUse, DomainNotVerified, DomainTaken, PlanLimitExceeded
from mailherd.hosting.models import Alias, Domain, Mailbox
from mailherd.hosting.provisioning import outbox_drain
from mailherd.mailcow.services import client_for
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def test_idn_domains_are_stored_as_punycode_and_shown_in_unicode(tenants):
    domain = services.domain_add(actor=SYSTEM, organization=tenants.acme, name="Bücher.Example")
    assert domain.name == "xn--bcher-kva.example"
    assert str(domain) == "bücher.example"


@pytest.mark.parametrize(
    "name", ["", "not a domain", "-bad-.test", "localhost", "a..b", "x" * 64 + ".test"]
)
def test_invalid_domain_names_are_refused(tenants, name):
    with pytest.raises(InvalidAddress):
        services.domain_add(actor=SYSTEM, organization=tenants.acme, name=name)
    assert not Domain.objects.exists()


def test_the_domain_limit_holds(tenants):
    for number in range(3):
        services.domain_add(actor=SYSTEM, organization=tenants.acme, name=f"d{number}.test")
    with pytest.raises(PlanLimitExceeded) as error:
        services.domain_add(actor=SYSTEM, organization=tenants.acme, name="d3.test")
    assert error.value.fields == {"limit_name": "domains", "limit": 3, "used": 3, "requested": 1}


def test_an_unverified_claim_blocks_nobody_but_a_verified_domain_is_taken(tenants, mail_server):
    from django.utils import timezone

    from mailherd.hosting.services.domains import _domain_claim
    from tests.conftest import make_org, make_user

    globex_claim = services.domain_add(
        actor=SYSTEM, organization=tenants.globex, name="shared.test"
    )
    verified_domain(tenants.acme, "shared.test")  # Acme proves it first despite Globex's claim
    with pytest.raises(DomainTaken):  # Globex's own verification now fails
        _domain_claim(actor=SYSTEM, domain_id=globex_claim.pk, now=timezone.now())
    initech = make_org(make_user("c@initech.test"), "Initech")
    with pytest.raises(DomainTaken):
        services.domain_add(actor=SYSTEM, organization=initech, name="SHARED.test")


def test_mailboxes_need_a_verified_domain(tenants):
    services.domain_add(actor=SYSTEM, organization=tenants.acme, name="new.test")
    with pytest.raises(DomainNotVerified):
        services.mailbox_create(
            actor=SYSTEM, organization=tenants.acme, address="a@new.test", quota_mb=100
        )
    with pytest.raises(NotFound):
        services.mailbox_create(
            actor=SYSTEM, organization=tenants.acme, address="a@globex.test", quota_mb=100
        )


@pytest.mark.parametrize(
    "address",
    ["no-at-sign", "two@@acme.test", "bad local@acme.test", "a,b@acme.test", "@acme.test"],
)
def test_invalid_addresses_are_refused_before_anything_is_written(tenants, mail_server, address):
    verified_domain(tenants.acme, "acme.test")
    with pytest.raises(InvalidAddress):
        services.mailbox_create(
            actor=SYSTEM, organization=tenants.acme, address=address, quota_mb=100
        )
    assert not Mailbox.objects.exists()


def test_storage_is_the_sum_of_quotas_and_is_enforced(tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="big@acme.test", quota_mb=10000
    )
    with pytest.raises(PlanLimitExceeded) as error:
        services.mailbox_create(
            actor=SYSTEM, organization=tenants.acme, address="more@acme.test", quota_mb=500
        )
    assert error.value.fields["limit_name"] == "storage_mb"
    assert "10 GiB" in error.value.message
    with pytest.raises(PlanLimitExceeded):
        services.mailbox_update(
            actor=SYSTEM, organization=tenants.acme, address="big@acme.test", quota_mb=10241
        )
    services.mailbox_update(
        actor=SYSTEM, organization=tenants.acme, address="big@acme.test", quota_mb=10240
    )


def test_weak_passwords_are_refused_and_generated_ones_are_strong(tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    with pytest.raises(ValidationFailed, match="at least 10"):
        services.mailbox_create(
            actor=SYSTEM,
            organization=tenants.acme,
            address="a@acme.test",
            password="short",
            quota_mb=10,
        )
    _mailbox, password = services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="a@acme.test", quota_mb=10
    )
    assert len(password) >= 20


def test_only_a_bcrypt_hash_of_the_password_is_kept_and_sent(tenants, mail_server, sim):
    from django.db import connection

    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(
        actor=SYSTEM,
        organization=tenants.acme,
        address="a@acme.test",
        password="Sup3r-secret-pass",
        quota_mb=10,
    )
    with connection.cursor() as cursor:  # nothing anywhere holds the plaintext, even while pending
        for table in ("hosting_provisioningop", "hosting_mailbox", "core_auditevent"):
            cursor.execute(f"SELECT * FROM {table}")
            assert "Sup3r-secret-pass" not in repr(cursor.fetchall())
    stored = Mailbox.objects.get(address="a@acme.test").password_hash
    assert stored.startswith("{BLF-CRYPT}$2y$")
    outbox_drain()
    [sent] = [e["body"] for e in sim.request_log() if (e["action"], e["category"]) == ("add", "mailbox")]
    assert sent["password"] == sent["password2"] == stored  # the hash, never the password
    assert sim.login("a@acme.test", "Sup3r-secret-pass")
    assert not sim.login("a@acme.test", "Sup3r-secret-pasS")


def test_an_address_is_never_both_a_mailbox_and_an_alias(tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="info@acme.test", quota_mb=10
    )
    with pytest.raises(AddressInUse):
        services.alias_create(
            actor=SYSTEM, organization=tenants.acme, address="info@acme.test", goto=["x@acme.test"]
        )
    services.alias_create(
        actor=SYSTEM, organization=tenants.acme, address="sales@acme.test", goto=["info@acme.test"]
    )
    with pytest.raises(AddressInUse):
        services.mailbox_create(
            actor=SYSTEM, organization=tenants.acme, address="sales@acme.test", quota_mb=10
        )


def test_external_forwarding_depends_on_the_plan(tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")  # starter: no external forwarding
    with pytest.raises(PermissionDenied, match="outside your domains"):
        services.alias_create(
            actor=SYSTEM,
            organization=tenants.acme,
            address="fw@acme.test",
            goto=["me@gmail.example"],
        )


def test_catch_all_and_multiple_targets_reach_mailcow(tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    services.alias_create(
        actor=SYSTEM,
        organization=tenants.acme,
        address="@acme.test",
        goto="a@acme.test, b@acme.test",
    )
    outbox_drain()
    remote = client_for(mail_server).get_alias("@acme.test")
    assert (
        remote.is_catch_all and set(remote.goto) == {"a@acme.test", "b@acme.test"} and remote.active
    )
    services.alias_update(
        actor=SYSTEM, organization=tenants.acme, address="@acme.test", enabled=False
    )
    outbox_drain()
    assert client_for(mail_server).get_alias("@acme.test").active is False


def test_mailbox_changes_reach_mailcow(tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="bo@acme.test", quota_mb=100, name="Bo"
    )
    outbox_drain()
    services.mailbox_update(
        actor=SYSTEM,
        organization=tenants.acme,
        address="bo@acme.test",
        quota_mb=200,
        name="Bo B",
        enabled=False,
    )
    outbox_drain()
    remote = client_for(mail_server).get_mailbox("bo@acme.test")
    assert (remote.quota_bytes, remote.name, int(remote.active)) == (200 * 1024 * 1024, "Bo B", 0)
    services.mailbox_delete(actor=SYSTEM, organization=tenants.acme, address="bo@acme.test")
    outbox_drain()
    assert client_for(mail_server).get_mailbox("bo@acme.test") is None


def test_removing_a_domain_needs_its_name_and_removes_everything(tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="a@acme.test", quota_mb=10
    )
    services.alias_create(
        actor=SYSTEM, organization=tenants.acme, address="b@acme.test", goto=["a@acme.test"]
    )
    outbox_drain()
    with pytest.raises(ValidationFailed, match="Type acme.test"):
        services.domain_delete(
            actor=SYSTEM, organization=tenants.acme, name="acme.test", confirm="yes"
        )
    services.domain_delete(
        actor=SYSTEM, organization=tenants.acme, name="acme.test", confirm="acme.test"
    )
    assert (
        not Mailbox.objects.exists() and not Alias.objects.exists() and not Domain.objects.exists()
    )
    outbox_drain()
    mailcow = client_for(mail_server)
    assert mailcow.get_domain("acme.test") is None and mailcow.list_mailboxes() == []


def test_suspension_stops_logins_but_keeps_mailboxes_and_restore_brings_them_back(
    tenants, mail_server
):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="a@acme.test", quota_mb=10
    )
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="off@acme.test", quota_mb=10
    )
    services.mailbox_update(
        actor=SYSTEM, organization=tenants.acme, address="off@acme.test", enabled=False
    )
    outbox_drain()
    services.organization_mail_suspend(
        actor=SYSTEM, organization_id=tenants.acme.pk, reason="unpaid"
    )
    outbox_drain()
    mailcow = client_for(mail_server)
    assert int(mailcow.get_mailbox("a@acme.test").active) == 2  # login refused, mail still received
    assert int(mailcow.get_mailbox("off@acme.test").active) == 0
    services.organization_mail_restore(actor=SYSTEM, organization_id=tenants.acme.pk)
    outbox_drain()
    assert int(mailcow.get_mailbox("a@acme.test").active) == 1
    assert int(mailcow.get_mailbox("off@acme.test").active) == 0


def test_a_suspended_organization_is_read_only(tenants, mail_server):
    from mailherd.core.errors import OrganizationSuspended

    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="a@acme.test", quota_mb=10)
    services.organization_mail_suspend(actor=SYSTEM, organization_id=tenants.acme.pk)
    tenants.acme.refresh_from_db()
    attempts = [
        lambda: services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="b@acme.test", quota_mb=10),
        lambda: services.mailbox_update(actor=SYSTEM, organization=tenants.acme, address="a@acme.test", quota_mb=20),
        lambda: services.mailbox_delete(actor=SYSTEM, organization=tenants.acme, address="a@acme.test"),
        lambda: services.alias_create(actor=SYSTEM, organization=tenants.acme, address="c@acme.test", goto=["a@acme.test"]),
        lambda: services.domain_add(actor=SYSTEM, organization=tenants.acme, name="more.test"),
        lambda: services.domain_delete(actor=SYSTEM, organization=tenants.acme, name="acme.test", confirm="acme.test"),
    ]
    for attempt in attempts:
        with pytest.raises(OrganizationSuspended, match="read-only"):
            attempt()
    assert Mailbox.objects.get(address="a@acme.test").quota_mb == 10
    services.organization_mail_restore(actor=SYSTEM, organization_id=tenants.acme.pk)
    services.mailbox_update(actor=SYSTEM, organization=tenants.acme, address="a@acme.test", quota_mb=20)
