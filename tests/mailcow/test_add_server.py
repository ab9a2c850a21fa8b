# ruff: noqa: F811  (pytest fixtures imported from other suites)
"""Registering a Mailcow server: the command and the back office's form make the same checks."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from mailherd.core.models import AuditEvent
from mailherd.hosting.models import ProvisioningOp
from mailherd.mailcow.models import MailServer
from tests.hosting.conftest import sim  # noqa: F401  (fixture)
from tests.operator.fixtures import ops_client, ops_user  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def _add(*args):
    call_command("add_server", *args)


def test_a_read_only_key_is_refused_without_changing_anything(sim):
    before = sim.request_count()
    with pytest.raises(CommandError, match="read-only") as refused:
        _add(
            "--name",
            "mx1",
            "--url",
            sim.url,
            "--api-key",
            sim.read_only_key,
            "--hostname",
            "mail.provider.test",
        )
    assert "read-write key" in str(refused.value) and "--api-key" in str(refused.value)
    assert not MailServer.objects.exists()
    assert sim.request_count() - before == 2  # the version, then one write Mailcow refuses
    assert (
        sim.state.domains == {} if hasattr(sim, "state") and hasattr(sim.state, "domains") else True
    )


def test_an_address_as_host_name_is_refused(sim):
    # The URL names an address and no --hostname: MX 10 127.0.0.1 would be published.
    with pytest.raises(CommandError, match="is an address") as refused:
        _add("--name", "mx1", "--url", sim.url, "--api-key", sim.api_key)
    assert "--hostname" in str(refused.value)
    with pytest.raises(CommandError, match="is an address"):
        _add("--name", "mx1", "--url", sim.url, "--api-key", sim.api_key, "--hostname", "10.1.2.3")
    assert not MailServer.objects.exists()


def test_a_read_write_key_and_a_host_name_register_and_apply_waiting_changes(
    sim,
    tenants,
    django_capture_on_commit_callbacks,
):
    later = timezone.now() + timedelta(hours=1)
    op = ProvisioningOp.objects.create(
        kind=ProvisioningOp.Kind.DOMAIN_CREATE,
        object_key="domain:waiting.test",
        organization=tenants.acme,
        payload={"domain": "waiting.test"},
        next_attempt_at=later,
    )
    with django_capture_on_commit_callbacks(execute=True):
        _add(
            "--name",
            "mx1",
            "--url",
            sim.url,
            "--api-key",
            sim.api_key,
            "--hostname",
            "mail.provider.test",
        )
    server = MailServer.objects.get(name="mx1")
    assert server.public_host == "mail.provider.test"
    assert AuditEvent.objects.filter(action="mail_server.register").exists()
    op.refresh_from_db()
    assert op.next_attempt_at < later  # the outbox was nudged


def _form(sim, **changes):
    form = {
        "name": "mx1",
        "api_url": sim.url,
        "api_key": sim.api_key,
        "hostname": "mail.provider.test",
        "imap_host": "",
        "imap_port": "993",
        "pop3_host": "",
        "pop3_port": "995",
        "smtp_host": "",
        "smtp_port": "587",
        "webmail_url": "",
        "capacity_mailboxes": "5000",
        "is_active": "on",
    }
    form.update(changes)
    return form


def test_the_back_office_form_refuses_what_the_command_refuses(ops_client, sim):
    url = "/operator/mailcow/mailserver/add/"
    response = ops_client.post(url, _form(sim, api_key=sim.read_only_key))
    assert response.status_code == 200
    assert "read-only" in response.content.decode()
    response = ops_client.post(url, _form(sim, hostname=""))
    assert response.status_code == 200
    assert "is an address" in response.content.decode()
    response = ops_client.post(url, _form(sim, smtp_host="192.0.2.7"))
    assert response.status_code == 200 and "is an address" in response.content.decode()
    assert not MailServer.objects.exists()


def test_the_back_office_form_registers_through_the_service(
    ops_client,
    sim,
    tenants,
    django_capture_on_commit_callbacks,
):
    later = timezone.now() + timedelta(hours=1)
    op = ProvisioningOp.objects.create(
        kind=ProvisioningOp.Kind.DOMAIN_CREATE,
        object_key="domain:waiting.test",
        organization=tenants.acme,
        payload={"domain": "waiting.test"},
        next_attempt_at=later,
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = ops_client.post("/operator/mailcow/mailserver/add/", _form(sim))
    assert response.status_code == 302, response.content.decode()[:3000]
    server = MailServer.objects.get(name="mx1")
    assert server.version and server.last_health_ok
    assert AuditEvent.objects.filter(action="mail_server.register").exists()
    op.refresh_from_db()
    assert op.next_attempt_at < later
    # a later change to a read-only key is refused the same way
    change = f"/operator/mailcow/mailserver/{server.pk}/change/"
    response = ops_client.post(change, _form(sim, api_key=sim.read_only_key))
    assert response.status_code == 200 and "read-only" in response.content.decode()
    server.refresh_from_db()
    assert server.api_key == sim.api_key
