"""The smarthost end to end: a relay defined → a domain set to use it → the domain's relayhost on the
simulator → the records page shows the relay's SPF and DKIM rows → published in PowerDNS, every check ok."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.core.models import AuditEvent
from mailherd.dns.services import domain_check
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.reconciler import reconcile_server
from mailherd.mailcow.models import Relay
from mailherd.mailcow.services import client_for
from tests.dns.conftest import expected, publish

pytestmark = pytest.mark.django_db
RESEND_DKIM = "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDresendkeyforthetest1234567890IDAQAB"


@pytest.fixture
def resend(tmp_path):
    secret = tmp_path / "relay-password"
    secret.write_text("re_s3cret:with-colon\n")
    call_command(
        "add_relay",
        "--name",
        "resend",
        "--host",
        "smtp.resend.com",
        "--port",
        "587",
        "--user",
        "resend",
        "--password-file",
        str(secret),
        "--spf-include",
        "amazonses.com",
        "--envelope-subdomain",
        "send",
        "--envelope-mx",
        "feedback-smtp.us-east-1.amazonses.com",
        "--dkim-selector",
        "resend",
        "--dkim-type",
        "TXT",
        "--dkim-value",
        RESEND_DKIM,
    )
    return Relay.objects.get(name="resend")


def _allow_own_relay(organization):
    plan = organization.plan
    plan.features = [*plan.features, "custom_relay"]
    plan.save()


def test_a_domain_sends_through_its_relay_and_its_records_check_ok(
    resend, make_domain, server_dns, tenants, api, alice_client, mail_server
):
    assert resend.password == "re_s3cret:with-colon"  # kept (encrypted at rest), line end dropped
    domain = make_domain("smart.test")
    _allow_own_relay(tenants.acme)

    status, body = api("patch", "/domains/smart.test", {"relay": "resend"})
    assert status == 200, body
    assert body["relay"] == "resend" and body["sending_via"] == "resend"
    assert "s3cret" not in str(body)
    outbox_drain()

    # the relayhost exists on the server, and the domain points at it
    mailcow = client_for(mail_server)
    relayhost_id = mailcow.get_domain("smart.test").relayhost_id
    host = mailcow.get_relayhost(relayhost_id)
    assert (host.hostname, host.username) == ("[smtp.resend.com]:587", "resend")
    assert AuditEvent.objects.filter(action="domain.relay").exists()

    # the records page shows the relay's rows
    domain.refresh_from_db()
    page = alice_client.get(reverse("dns:records", args=["acme", "smart.test"])).content.decode()
    assert "send.smart.test" in page and "include:amazonses.com" in page
    assert (
        "resend._domainkey.smart.test" in page and "feedback-smtp.us-east-1.amazonses.com" in page
    )
    records = {r.key: r for r in expected(domain)}
    assert records["relay_mx"].name == "send.smart.test" and records["relay_mx"].priority == 10
    assert records["relay_spf"].value == "v=spf1 include:amazonses.com ~all"
    assert records["relay_dkim"].value == RESEND_DKIM
    assert "amazonses" not in records["spf"].value  # the envelope subdomain carries the include

    # published in PowerDNS, every record checks ok
    publish(server_dns, expected(domain), zone="smart.test")
    results = domain_check(domain=domain)
    assert {r.status for r in results} == {"ok"}, [
        (r.record.key, r.status, r.detail) for r in results
    ]
    assert {"relay_mx", "relay_spf", "relay_dkim"} <= {r.record.key for r in results}

    # switching back removes the relay rows and the relayhost from the domain
    status, body = api("patch", "/domains/smart.test", {"relay": None})
    assert body["relay"] is None and body["sending_via"] is None
    outbox_drain()
    assert mailcow.get_domain("smart.test").relayhost_id is None
    domain.refresh_from_db()
    assert "relay_mx" not in {r.key for r in expected(domain)}
    assert reconcile_server(server=mail_server).repaired == []


def test_the_server_default_applies_to_domains_without_their_own(
    resend, make_domain, mail_server, tenants, api
):
    make_domain("plain.test")
    call_command("set_server_relay", "--server", mail_server.name, "--relay", "resend")
    outbox_drain()
    mailcow = client_for(mail_server)
    relayhost_id = mailcow.get_domain("plain.test").relayhost_id
    assert mailcow.get_relayhost(relayhost_id).hostname == "[smtp.resend.com]:587"
    status, body = api("get", "/domains/plain.test")
    assert body["relay"] is None and body["sending_via"] == "resend"

    # a change on the server is drift that the reconciler repairs
    mailcow.assign_relayhost("plain.test", None)
    result = reconcile_server(server=mail_server)
    assert f"domain plain.test: relayhost none instead of {relayhost_id}" in result.repaired
    outbox_drain()
    assert mailcow.get_domain("plain.test").relayhost_id == relayhost_id

    # a new password reaches the relayhost on the server, through the domain's sync
    from mailherd.mailcow.relays import relay_update

    relay_update(actor=Actor.system(), relay=resend, password="new-secret")
    outbox_drain()
    sim_host = mailcow.list_relayhosts()
    assert len(sim_host) == 1  # edited in place, not added again

    call_command("set_server_relay", "--server", mail_server.name, "--relay", "none")
    outbox_drain()
    assert mailcow.get_domain("plain.test").relayhost_id is None


def test_a_plan_without_the_feature_cannot_pick_a_relay(resend, make_domain, api):
    make_domain("nofeat.test")
    status, body = api("patch", "/domains/nofeat.test", {"relay": "resend"})
    assert status == 403 and "not part of the" in body["message"]
    status, body = api("patch", "/domains/nofeat.test", {"relay": "nosuch"})
    assert status == 422 and body["code"] == "unknown_relay"


def test_another_organization_cannot_set_a_relay_on_my_domain(resend, make_domain, client, tenants):
    make_domain("mine.test")
    _allow_own_relay(tenants.globex)
    token = api_token_create(actor=Actor.system(), organization=tenants.globex, name="g")[1]
    response = client.patch(
        "/api/v1/domains/mine.test",
        data={"relay": "resend"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 404
    assert alice_domain_relay("mine.test") is None


def alice_domain_relay(name):
    from mailherd.hosting.models import Domain

    return Domain.objects.get(name=name).relay_id


def test_commands_refuse_bad_input(resend, tmp_path, mail_server):
    with pytest.raises(CommandError, match="already exists"):
        call_command("add_relay", "--name", "resend", "--host", "smtp.x.test")
    with pytest.raises(CommandError, match="not a host name"):
        call_command("add_relay", "--name", "other", "--host", "not a host")
    with pytest.raises(CommandError, match="Cannot read the password file"):
        call_command(
            "add_relay",
            "--name",
            "other",
            "--host",
            "smtp.x.test",
            "--password-file",
            str(tmp_path / "missing"),
        )
    with pytest.raises(CommandError, match="no smarthost named"):
        call_command("set_server_relay", "--server", mail_server.name, "--relay", "nosuch")
    with pytest.raises(CommandError, match="No Mailcow server"):
        call_command("set_server_relay", "--server", "nosuch", "--relay", "resend")
