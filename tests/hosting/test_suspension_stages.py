"""Suspension in stages on the Mailcow simulator, through the outbox (no Stripe here).

Stage 1 refuses logins but keeps mail flowing (mailbox active=2); stage 2 turns
mailboxes and domains off (mail refused); restore returns every object to what
the customer had; stage 3 removes the domains here and on the server. The
dunning sweep that drives them is tested in tests/billing/test_suspension_stages.py.
"""

import pytest

from mailherd.core.actors import Actor
from mailherd.core.errors import OrganizationSuspended, ValidationFailed
from mailherd.core.models import AuditEvent
from mailherd.hosting.models import Domain, Mailbox, ProvisioningOp
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services import (
    alias_create,
    domain_delete,
    mailbox_create,
    mailbox_update,
    organization_mail_restore,
    organization_mail_suspend,
)
from mailherd.hosting.services.suspension import (
    organization_mail_deactivate,
    organization_mail_delete,
)
from mailherd.mailcow.services import client_for
from mailherd.tenancy.models import Organization
from tests.hosting.conftest import verified_domain
from tests.operator.fixtures import (  # noqa: F401  (fixtures: the back office needs 2FA)
    _operator_urls_and_fresh_cache,
    ops_client,
    ops_user,
)

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system()
ON, OFF = "team@acme.test", "old@acme.test"
Stage = Organization.SuspensionStage


def _drain() -> None:
    outbox_drain()
    unfinished = ProvisioningOp.objects.exclude(status=ProvisioningOp.Status.DONE)
    assert not unfinished.exists(), list(unfinished.values("object_key", "status", "last_error"))


def _flags(server) -> tuple[int, int, bool]:
    """(active of the enabled mailbox, of the disabled one, domain active) on the simulator."""
    remote = client_for(server)
    return (
        int(remote.get_mailbox(ON).active),
        int(remote.get_mailbox(OFF).active),
        remote.get_domain("acme.test").active,
    )


@pytest.fixture
def acme_live(tenants, mail_server):
    org = tenants.acme
    verified_domain(org, "acme.test")
    mailbox_create(actor=SYSTEM, organization=org, address=ON, quota_mb=10)
    mailbox_create(actor=SYSTEM, organization=org, address=OFF, quota_mb=10)
    mailbox_update(actor=SYSTEM, organization=org, address=OFF, enabled=False)  # the customer's choice
    alias_create(actor=SYSTEM, organization=org, address="info@acme.test", goto=[ON])
    _drain()
    assert _flags(mail_server) == (1, 0, True)
    return org


def test_each_stage_reaches_mailcow_through_the_outbox_and_restore_undoes_it(acme_live, mail_server):
    org = acme_live

    organization_mail_suspend(actor=SYSTEM, organization_id=org.pk, reason="test")
    org.refresh_from_db()
    assert (org.status, org.suspension_stage) == ("suspended", Stage.LOGIN_DISABLED)
    assert org.suspended_at is not None
    _drain()
    assert _flags(mail_server) == (2, 0, True)  # logins refused, mail still received

    organization_mail_deactivate(actor=SYSTEM, organization_id=org.pk, reason="test")
    org.refresh_from_db()
    assert (org.status, org.suspension_stage) == ("suspended", Stage.DEACTIVATED)
    assert _flags(mail_server) == (2, 0, True)  # nothing changes before the outbox runs
    assert ProvisioningOp.objects.filter(
        kind=ProvisioningOp.Kind.DOMAIN_UPDATE, object_key="domain:acme.test", status="pending"
    ).exists()
    _drain()
    assert _flags(mail_server) == (0, 0, False)  # mail refused

    # deactivating again changes nothing and queues nothing
    organization_mail_deactivate(actor=SYSTEM, organization_id=org.pk)
    assert not ProvisioningOp.objects.filter(status="pending").exists()

    organization_mail_restore(actor=SYSTEM, organization_id=org.pk)
    org.refresh_from_db()
    assert (org.status, org.suspension_stage, org.suspended_at) == ("active", Stage.NONE, None)
    _drain()
    assert _flags(mail_server) == (1, 0, True)  # exactly as before: the disabled one stays off
    assert dict(Mailbox.objects.filter(organization=org).values_list("address", "enabled")) == {
        ON: True,
        OFF: False,
    }
    actions = list(
        AuditEvent.objects.filter(
            organization=org,
            action__in=["organization.suspend", "organization.deactivate", "organization.restore"],
        )
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["organization.suspend", "organization.deactivate", "organization.restore"]


def test_the_operator_can_deactivate_at_once_and_it_is_audited(
    acme_live,
    mail_server,
    ops_client,  # noqa: F811
    ops_user,  # noqa: F811
):
    org = acme_live
    client = ops_client
    response = client.post(
        "/operator/tenancy/organization/",
        {"action": "deactivate_selected", "_selected_action": [org.pk]},
    )
    assert response.status_code == 200 and b"Deactivate these organizations" in response.content
    org.refresh_from_db()
    assert org.status == "active"  # asked first
    response = client.post(
        "/operator/tenancy/organization/",
        {"action": "deactivate_selected", "_selected_action": [org.pk], "confirmed": "yes"},
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.status, org.suspension_stage) == ("suspended", Stage.DEACTIVATED)
    _drain()
    assert _flags(mail_server) == (0, 0, False)
    event = AuditEvent.objects.get(organization=org, action="organization.deactivate")
    assert event.actor_user == ops_user
    listing = client.get("/operator/tenancy/organization/").content.decode()
    assert "Mailboxes and domains deactivated" in listing
    detail = client.get(f"/operator/tenancy/organization/{org.pk}/change/").content.decode()
    assert "Mailboxes and domains deactivated" in detail


def test_deletion_removes_the_domains_here_and_on_the_server_and_keeps_the_account(
    acme_live, mail_server
):
    org = acme_live
    organization_mail_deactivate(actor=SYSTEM, organization_id=org.pk, reason="test")
    _drain()
    # the customer cannot remove anything while suspended; only the system path can
    with pytest.raises(OrganizationSuspended):
        domain_delete(actor=SYSTEM, organization=org, name="acme.test", confirm="acme.test")

    removed = organization_mail_delete(actor=SYSTEM, organization_id=org.pk, reason="test")

    assert removed == ["acme.test"]
    org.refresh_from_db()
    assert (org.status, org.suspension_stage) == ("suspended", Stage.DELETED)
    assert not Domain.objects.filter(organization=org).exists()
    assert not Mailbox.objects.filter(organization=org).exists()
    _drain()
    remote = client_for(mail_server)
    assert remote.get_domain("acme.test") is None
    assert remote.get_mailbox(ON) is None
    forced = AuditEvent.objects.get(organization=org, action="domain.delete")
    assert forced.data.get("forced") is True
    assert AuditEvent.objects.filter(organization=org, action="organization.mail_delete").exists()
    # idempotent; and a restore later gives back an active, empty organization
    assert organization_mail_delete(actor=SYSTEM, organization_id=org.pk) == []
    organization_mail_restore(actor=SYSTEM, organization_id=org.pk)
    org.refresh_from_db()
    assert (org.status, org.suspension_stage) == ("active", Stage.NONE)


def test_an_active_organization_s_data_is_never_deleted(tenants):
    with pytest.raises(ValidationFailed):
        organization_mail_delete(actor=SYSTEM, organization_id=tenants.acme.pk)
