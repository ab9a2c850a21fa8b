"""`mailherd reconcile` and what the reconciler puts back when a server loses things behind Mailherd's back."""

import io

import pytest
from django.core.management import CommandError, call_command

from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.models import Mailbox, ProvisioningOp
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.reconciler import reconcile_server
from mailherd.mailcow.services import client_for
from tests.hosting.conftest import verified_domain
from tests.support.dovecot import dovecot, dovecot_server  # noqa: F401  (fixtures)

SYSTEM = Actor.system()
PASSWORD = "Original-pass-2026"


def reconcile(*args) -> str:
    out = io.StringIO()
    call_command("reconcile", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def gone(tenants, mail_server, sim):
    """A mailbox with a password the user chose, then deleted on the server behind Mailherd's back."""
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="gone@acme.test", password=PASSWORD, quota_mb=100
    )
    services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="kept@acme.test", quota_mb=100)
    outbox_drain()
    client_for(mail_server).delete_mailbox("gone@acme.test")
    assert not sim.login("gone@acme.test", PASSWORD)
    return "gone@acme.test"


@pytest.mark.django_db
def test_reconcile_brings_back_a_deleted_mailbox_whose_password_still_logs_in(gone, mail_server, sim):
    out = reconcile()
    assert "server sim:" in out
    assert "repaired: mailbox gone@acme.test: missing [applied]" in out
    assert "1 repaired, 0 reported" in out
    assert client_for(mail_server).get_mailbox(gone) is not None
    assert sim.login(gone, PASSWORD)  # the stored {BLF-CRYPT} hash, verified like Dovecot would
    assert not sim.login(gone, "Some-other-pass-1")
    assert Mailbox.objects.get(address=gone).sync_status == "active"
    # nothing left to do the next time
    assert "in sync" in reconcile("--server", "sim")


@pytest.mark.django_db
def test_the_restored_hash_logs_in_over_imap_on_a_real_dovecot(gone, sim, dovecot):  # noqa: F811
    reconcile()
    with sim.state.lock:
        stored = sim.state.mailboxes[gone].password
    assert stored.startswith("{BLF-CRYPT}$2")  # only the hash ever reached the server
    dovecot.set_password(gone, stored)  # Dovecot reads the hash as Mailcow's would
    client = dovecot.imap(gone, PASSWORD)
    assert client.select_folder("INBOX") is not None
    client.logout()


@pytest.mark.django_db
def test_a_refused_repair_is_parked_once_not_once_per_cycle(gone, mail_server, sim):
    # The server refuses the re-creation (a clash made there): the row parks, and later
    # cycles report it instead of parking another row each time.
    client_for(mail_server).add_alias(gone, ["kept@acme.test"])
    first = reconcile()
    assert "repaired: mailbox gone@acme.test: missing [refused by the server:" in first
    for _ in range(3):
        out = reconcile()
        assert "reported: mailbox gone@acme.test: missing (a parked change waits for the operator" in out
        assert "0 repaired" in out
    assert ProvisioningOp.objects.filter(object_key=f"mailbox:{gone}", status="failed").count() == 1
    # once the operator discards the parked row, the next cycle repairs again
    from mailherd.hosting.services.outbox import outbox_discard

    client_for(mail_server).delete_alias(gone)
    outbox_discard(actor=SYSTEM, op_ids=[ProvisioningOp.objects.get(status="failed").pk])
    assert "repaired: mailbox gone@acme.test: missing [applied]" in reconcile()
    assert sim.login(gone, PASSWORD)


@pytest.mark.django_db
def test_queue_only_leaves_the_repair_to_the_workers(gone, mail_server):
    assert "repaired: mailbox gone@acme.test: missing [queued]" in reconcile("--queue-only")
    assert client_for(mail_server).get_mailbox(gone) is None
    outbox_drain()
    assert client_for(mail_server).get_mailbox(gone) is not None


@pytest.mark.django_db
def test_an_unknown_server_name_or_a_server_that_is_down_is_an_error(mail_server, sim):
    with pytest.raises(CommandError, match="No mail server named 'nope'"):
        reconcile("--server", "nope")
    sim.set_fault("down")
    with pytest.raises(CommandError, match="Not reconciled: sim"):
        reconcile()
    sim.clear_faults()
    assert reconcile_server(server=mail_server).repaired == []


@pytest.fixture
def provisioned(tenants, mail_server, sim):
    verified_domain(tenants.acme, "acme.test")
    outbox_drain()
    from mailherd.hosting.models import Domain

    domain = Domain.objects.get(name="acme.test")
    assert domain.dkim_private_key.startswith("-----BEGIN RSA PRIVATE KEY-----")  # kept, encrypted at rest
    assert client_for(mail_server).get_dkim("acme.test").txt == domain.dkim_txt
    return domain


@pytest.mark.django_db
def test_a_dkim_key_deleted_on_the_server_is_put_back_as_it_was(
    provisioned, mail_server, mailoutbox, django_capture_on_commit_callbacks
):
    mailcow = client_for(mail_server)
    published = provisioned.dkim_txt
    mailcow.delete_dkim("acme.test")
    with django_capture_on_commit_callbacks(execute=True):
        out = reconcile()
    assert "repaired: domain acme.test: DKIM key missing [applied]" in out
    assert mailcow.get_dkim("acme.test").txt == published  # the record in DNS still matches
    provisioned.refresh_from_db()
    assert provisioned.dkim_txt == published
    assert mailoutbox == []  # nothing for the customer to do
    assert "in sync" in reconcile()


@pytest.mark.django_db
def test_a_replaced_dkim_key_is_put_back_too(provisioned, mail_server):
    mailcow = client_for(mail_server)
    published = provisioned.dkim_txt
    mailcow.delete_dkim("acme.test")
    mailcow.add_dkim("acme.test", selector="dkim", key_size=1024)  # someone rotated it on the server
    assert "repaired: domain acme.test: DKIM key differs from the one kept [applied]" in reconcile()
    assert mailcow.get_dkim("acme.test").txt == published


@pytest.mark.django_db
def test_a_lost_key_only_the_server_knew_is_replaced_and_the_customer_asked_to_publish_it(
    provisioned, mail_server, mailoutbox, tenants, django_capture_on_commit_callbacks
):
    from mailherd.dns.records import domain_records
    from mailherd.hosting.models import Domain

    # a domain provisioned before Mailherd kept keys: only the server had the private key
    Domain.objects.filter(pk=provisioned.pk).update(dkim_private_key="")
    old = provisioned.dkim_txt
    client_for(mail_server).delete_dkim("acme.test")
    with django_capture_on_commit_callbacks(execute=True):
        assert "repaired: domain acme.test: DKIM key missing [applied]" in reconcile()
    domain = Domain.objects.get(pk=provisioned.pk)
    new = client_for(mail_server).get_dkim("acme.test").txt
    assert new != old and domain.dkim_txt == new and domain.dkim_private_key  # kept from now on
    shown = [r for r in domain_records(domain) if r.name == "dkim._domainkey.acme.test"]
    assert [r.value for r in shown] == [new]  # the records shown (and checked) follow the new key
    (message,) = mailoutbox
    assert message.to == [tenants.alice.email]
    assert "publish its new DKIM record" in message.subject and new in message.body
    assert "dkim._domainkey.acme.test" in message.body


@pytest.mark.django_db
def test_domain_limits_changed_on_the_server_are_repaired_to_the_plan(provisioned, mail_server, tenants):
    mailcow = client_for(mail_server)
    mailcow.edit_domain("acme.test", max_mailboxes=1000, max_aliases=5000, quota_mib=900_000, max_mailbox_quota_mib=900_000)
    out = reconcile()
    assert "repaired: domain acme.test: limits quota_mib 900000 instead of 10240" in out
    assert "max_mailboxes 1000 instead of 10, max_aliases 5000 instead of 30 [applied]" in out
    remote = mailcow.get_domain("acme.test")
    plan = tenants.acme.plan
    assert (remote.max_mailboxes, remote.max_aliases, remote.quota_mib, remote.max_mailbox_quota_mib) == (
        plan.max_mailboxes,
        plan.max_aliases,
        plan.max_storage_mb,
        plan.max_storage_mb,
    )
    assert "in sync" in reconcile()


@pytest.mark.django_db
def test_a_server_that_cannot_read_mailherds_key_makes_its_own(tenants, mail_server, sim, monkeypatch):
    from mailherd.hosting.models import Domain
    from mailherd.mailcow.client import MailcowClient, MailcowInvalidInput

    def refuse(self, domain, **kwargs):
        raise MailcowInvalidInput("[POST add/dkim_import] private_key_error", msg_key="private_key_error")

    monkeypatch.setattr(MailcowClient, "import_dkim", refuse)
    verified_domain(tenants.acme, "acme.test")
    outbox_drain()
    domain = Domain.objects.get(name="acme.test")
    assert domain.status == "active" and domain.dkim_private_key == ""  # not restorable, but signing
    assert client_for(mail_server).get_dkim("acme.test").txt == domain.dkim_txt
