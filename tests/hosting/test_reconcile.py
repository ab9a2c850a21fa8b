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
