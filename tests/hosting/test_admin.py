"""The back office deletes through the portal's services: Mailcow loses the object too, and it is audited."""

import pytest

from mailherd.core.actors import Actor
from mailherd.core.models import AuditEvent
from mailherd.hosting import services
from mailherd.hosting.models import Alias, Domain, Mailbox, ProvisioningOp
from mailherd.hosting.provisioning import outbox_drain
from mailherd.mailcow.services import client_for
from tests.hosting.conftest import verified_domain
from tests.operator.fixtures import sign_in_with_two_factor, with_two_factor

SYSTEM = Actor.system()


@pytest.fixture
def hosted(tenants, mail_server, sim):
    verified_domain(tenants.acme, "acme.test")
    for name in ("a", "b", "c"):
        services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address=f"{name}@acme.test", quota_mb=10)
    services.alias_create(actor=SYSTEM, organization=tenants.acme, address="sales@acme.test", goto=["a@acme.test"])
    outbox_drain()
    return client_for(mail_server)


@pytest.fixture
def ops(client, operator_user):
    return sign_in_with_two_factor(client, with_two_factor(operator_user))


def listed_count(ops, path) -> int:
    page = ops.get(path)
    assert page.status_code == 200
    return page.context["cl"].result_count


@pytest.mark.django_db
def test_deleting_a_mailbox_in_the_back_office_removes_it_from_the_server(hosted, ops):
    mailbox = Mailbox.objects.get(address="b@acme.test")
    url = f"/operator/hosting/mailbox/{mailbox.pk}/delete/"
    page = ops.get(url).content.decode()
    assert "all of its messages are deleted" in page  # the confirmation says what happens on Mailcow
    assert ops.post(url, {"post": "yes"}).status_code == 302
    assert ProvisioningOp.objects.filter(object_key="mailbox:b@acme.test", kind="mailbox.delete").exists()
    assert AuditEvent.objects.filter(action="mailbox.delete", actor_label__contains="ops@operator.test").exists()
    outbox_drain()
    assert hosted.get_mailbox("b@acme.test") is None
    assert listed_count(ops, "/operator/hosting/mailbox/") == len(hosted.list_mailboxes("acme.test")) == 2


@pytest.mark.django_db
def test_delete_selected_goes_through_the_services_for_mailboxes_and_aliases(hosted, ops):
    picked = list(Mailbox.objects.filter(address__in=["a@acme.test", "c@acme.test"]).values_list("pk", flat=True))
    confirm = ops.post("/operator/hosting/mailbox/", {"action": "delete_selected", "_selected_action": picked})
    assert confirm.status_code == 200 and "all of its messages are deleted" in confirm.content.decode()
    ops.post("/operator/hosting/mailbox/", {"action": "delete_selected", "_selected_action": picked, "post": "yes"})
    alias = Alias.objects.get(address="sales@acme.test")
    ops.post("/operator/hosting/alias/", {"action": "delete_selected", "_selected_action": [alias.pk], "post": "yes"})
    outbox_drain()
    assert [m.address for m in hosted.list_mailboxes("acme.test")] == ["b@acme.test"]
    assert hosted.get_alias("sales@acme.test") is None
    assert listed_count(ops, "/operator/hosting/mailbox/") == 1
    assert listed_count(ops, "/operator/hosting/alias/") == len(hosted.list_aliases("acme.test")) == 0
    assert AuditEvent.objects.filter(action="alias.delete").count() == 1


@pytest.mark.django_db
def test_deleting_a_domain_in_the_back_office_removes_it_with_its_mailboxes(hosted, ops, mail_server):
    domain = Domain.objects.get(name="acme.test")
    assert ops.post(f"/operator/hosting/domain/{domain.pk}/delete/", {"post": "yes"}).status_code == 302
    outbox_drain()
    assert hosted.get_domain("acme.test") is None
    assert hosted.list_mailboxes() == []
    assert not Mailbox.objects.exists()
    assert AuditEvent.objects.filter(action="domain.delete").exists()


@pytest.mark.django_db
def test_outbox_rows_cannot_be_deleted_only_retried_or_discarded(hosted, ops):
    op = ProvisioningOp.objects.first()
    assert ops.get(f"/operator/hosting/provisioningop/{op.pk}/delete/").status_code == 403
    actions = ops.get("/operator/hosting/provisioningop/").context["action_form"].fields["action"].choices
    assert "delete_selected" not in [name for name, _label in actions]
    ops.post("/operator/hosting/provisioningop/", {"action": "delete_selected", "_selected_action": [op.pk], "post": "yes"})
    assert ProvisioningOp.objects.filter(pk=op.pk).exists()


@pytest.mark.django_db
def test_a_delete_the_service_refuses_is_shown_and_deletes_nothing(hosted, ops, tenants):
    from mailherd.hosting.services.suspension import organization_mail_suspend

    organization_mail_suspend(actor=SYSTEM, organization_id=tenants.acme.pk)  # read-only while suspended
    mailbox = Mailbox.objects.get(address="a@acme.test")
    page = ops.post(f"/operator/hosting/mailbox/{mailbox.pk}/delete/", {"post": "yes"}, follow=True)
    assert "Not deleted: This organization is suspended" in page.content.decode()
    ops.post(
        "/operator/hosting/mailbox/", {"action": "delete_selected", "_selected_action": [mailbox.pk], "post": "yes"}
    )
    assert Mailbox.objects.filter(address="a@acme.test").exists()
    assert not ProvisioningOp.objects.filter(kind="mailbox.delete").exists()
    assert not AuditEvent.objects.filter(action="mailbox.delete").exists()
