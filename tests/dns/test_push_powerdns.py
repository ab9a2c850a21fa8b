"""Automatic set-up through PowerDNS's HTTP API, against a real PowerDNS; the API URL guard; the plan."""

import httpx
import pytest
from django.db import connection

from mailherd.core.actors import Actor
from mailherd.core.errors import Conflict
from mailherd.dns.models import DnsPush
from mailherd.dns.records import txt_zone_value
from mailherd.dns.services import (
    dns_provider_account_create,
    dns_provider_link,
    dns_push_apply,
    dns_push_plan,
    domain_check,
)
from tests.dns.conftest import expected
from tests.support.powerdns import API_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def autosetup(tenants, settings):
    """Acme's plan has automatic DNS set-up; the operator allows the PowerDNS on loopback."""
    plan = tenants.acme.plan
    plan.features = sorted({*plan.features, "dns_autosetup"})
    plan.save()
    settings.MAILHERD_ALLOWED_TARGETS = ["127.0.0.1/32"]


@pytest.fixture
def linked(tenants, server_dns, autosetup):
    """Make a domain and link it to a PowerDNS account with the API key."""

    def link(domain):
        actor = Actor.for_user(tenants.alice)
        account = dns_provider_account_create(
            actor=actor,
            organization=tenants.acme,
            name=f"pdns-{domain.name}",
            provider="powerdns",
            options={
                "auth_token": API_KEY,
                "pdns_server": f"http://127.0.0.1:{server_dns.api_port}",
                "pdns_server_id": "localhost",
            },
        )
        dns_provider_link(actor=actor, domain=domain, account_id=account.pk)
        return account

    return link


def zone_rrsets(pdns, zone: str) -> set[tuple[str, str, str]]:
    """Every (name, type, content) in the zone except the SOA/NS PowerDNS made itself."""
    data = httpx.get(f"{pdns.api_url}/zones/{zone}.", headers={"X-API-Key": API_KEY}).json()
    return {
        (rrset["name"].rstrip("."), rrset["type"], record["content"])
        for rrset in data["rrsets"]
        if rrset["type"] not in ("SOA", "NS")
        for record in rrset["records"]
    }


def as_pdns(record) -> tuple[str, str, str]:
    if record.type == "TXT":
        content = txt_zone_value(record.value)
    else:
        head, _, host = record.content.rpartition(" ")
        content = f"{head} {host}." if head else host + "."
    return (record.name, record.type, content)


def test_the_push_creates_exactly_the_records_shown(make_domain, server_dns, linked, tenants):
    # given an empty zone and a linked PowerDNS account
    domain = make_domain("push.test")
    linked(domain)
    records = [r for r in expected(domain) if not r.optional]

    # when the customer previews
    changes, fingerprint = dns_push_plan(domain=domain)

    # then the preview creates every record shown on the records page, and nothing else
    assert [(c.action, c.type, c.name) for c in changes] == [
        ("create", r.type, r.name) for r in records
    ]

    # when they apply it
    push = dns_push_apply(
        actor=Actor.for_user(tenants.alice), domain=domain, confirmed_fingerprint=fingerprint
    )

    # then the zone holds exactly the records shown (long DKIM split into 255-octet strings)
    assert push.status == DnsPush.Status.APPLIED and len(push.changes) == len(records)
    assert zone_rrsets(server_dns, "push.test") == {as_pdns(r) for r in records}
    dkim = next(
        c for (n, t, c) in zone_rrsets(server_dns, "push.test") if n.startswith("dkim._domainkey")
    )
    key = next(r for r in records if r.key == "dkim").value
    assert dkim.count('" "') == (len(key.encode()) - 1) // 255  # 255-octet strings
    # and the real DNS check agrees
    assert {r.status for r in domain_check(domain=domain)} == {"ok"}
    # and a second preview has nothing left to do
    changes, _ = dns_push_plan(domain=domain)
    assert {c.action for c in changes} == {"keep"}


def test_the_push_replaces_conflicting_records_and_keeps_unrelated_ones(
    make_domain, server_dns, linked, tenants
):
    # given a zone still pointing at the previous mail host, with someone else's verification TXT
    domain = make_domain("move.test")
    server_dns.set_record(
        "move.test", "move.test", "MX", ["10 mx.oldhost.test.", "20 mx2.oldhost.test."]
    )
    server_dns.set_record(
        "move.test",
        "move.test",
        "TXT",
        ["v=spf1 include:_spf.oldhost.test ~all", "google-site-verification=keep-me"],
    )
    server_dns.set_record(
        "move.test", "autoconfig.move.test", "CNAME", ["autoconfig.oldhost.test."]
    )
    linked(domain)

    changes, fingerprint = dns_push_plan(domain=domain)
    deletes = {(c.type, c.value) for c in changes if c.action == "delete"}

    assert deletes == {
        ("MX", "10 mx.oldhost.test"),
        ("MX", "20 mx2.oldhost.test"),
        ("TXT", "v=spf1 include:_spf.oldhost.test ~all"),
        ("CNAME", "autoconfig.oldhost.test"),
    }
    dns_push_apply(
        actor=Actor.for_user(tenants.alice), domain=domain, confirmed_fingerprint=fingerprint
    )

    zone = zone_rrsets(server_dns, "move.test")
    assert ("move.test", "TXT", '"google-site-verification=keep-me"') in zone
    assert not any("oldhost" in content for (_, _, content) in zone)
    assert {r.status for r in domain_check(domain=domain)} == {"ok"}


def test_the_push_refuses_when_the_zone_changed_after_the_preview(
    make_domain, server_dns, linked, tenants
):
    domain = make_domain("race.test")
    linked(domain)
    _, fingerprint = dns_push_plan(domain=domain)

    server_dns.set_record("race.test", "race.test", "MX", ["10 mx.surprise.test."])

    with pytest.raises(Conflict):
        dns_push_apply(
            actor=Actor.for_user(tenants.alice), domain=domain, confirmed_fingerprint=fingerprint
        )
    assert ("race.test", "MX", "10 mx.surprise.test.") in zone_rrsets(server_dns, "race.test")
    assert not DnsPush.objects.exists()


def test_provider_credentials_are_encrypted_at_rest(make_domain, linked):
    domain = make_domain("secret.test")
    account = linked(domain)

    with connection.cursor() as cursor:
        cursor.execute("SELECT options FROM dns_dnsprovideraccount WHERE id = %s", [account.pk])
        raw = cursor.fetchone()[0]
    assert API_KEY not in raw and "pdns_server" not in raw
    assert API_KEY in account.options  # and readable through the model


def test_a_wrong_api_key_is_a_clear_error(make_domain, server_dns, tenants, autosetup):
    from mailherd.dns.services import DnsProviderFailed

    domain = make_domain("badkey.test")
    actor = Actor.for_user(tenants.alice)
    account = dns_provider_account_create(
        actor=actor,
        organization=tenants.acme,
        name="bad",
        provider="powerdns",
        options={"auth_token": "wrong", "pdns_server": f"http://127.0.0.1:{server_dns.api_port}"},
    )
    dns_provider_link(actor=actor, domain=domain, account_id=account.pk)

    with pytest.raises(DnsProviderFailed) as error:
        dns_push_plan(domain=domain)
    assert "401" in error.value.message and error.value.code == "dns_provider_failed"
    assert "API key" in error.value.message
    assert (
        "127.0.0.1" not in error.value.message
        and str(server_dns.api_port) not in error.value.message
    )


def test_cname_targets_outside_the_zone_are_kept_as_they_are(
    make_domain, server_dns, linked, tenants
):
    # lexicon's PowerDNS provider appended the zone to them ("mail.host.test.acme.test.")
    domain = make_domain("cname.test")
    linked(domain)
    _, fingerprint = dns_push_plan(domain=domain)
    dns_push_apply(
        actor=Actor.for_user(tenants.alice), domain=domain, confirmed_fingerprint=fingerprint
    )
    cnames = {c for (n, t, c) in zone_rrsets(server_dns, "cname.test") if t == "CNAME"}
    assert cnames and not any(c.endswith(".cname.test.") for c in cnames)


# --- customer-supplied API URLs (SSRF) --------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8081",
        "http://localhost:8081",
        "http://[::1]:8081",
        "http://169.254.169.254/latest",
        "http://10.0.0.5:8081",
        "http://192.168.1.1",
        "http://2130706433:8081",
    ],
)
def test_a_powerdns_url_on_a_private_address_is_refused(tenants, autosetup, settings, url):
    from mailherd.core.netguard import TargetNotAllowed

    settings.MAILHERD_ALLOWED_TARGETS = []
    with pytest.raises(TargetNotAllowed) as refused:
        dns_provider_account_create(
            actor=Actor.for_user(tenants.alice),
            organization=tenants.acme,
            name="internal",
            provider="powerdns",
            options={"auth_token": "k", "pdns_server": url},
        )
    assert (
        "public internet addresses" in refused.value.message or "unusual" in refused.value.message
    )
    assert not tenants.acme.dns_provider_accounts.exists()


def test_a_saved_url_is_checked_again_at_every_connection(
    make_domain, server_dns, linked, settings
):
    from mailherd.dns.services import DnsProviderFailed

    domain = make_domain("rebind.test")
    linked(domain)  # saved while the operator allowed loopback
    settings.MAILHERD_ALLOWED_TARGETS = []  # no longer
    with pytest.raises(DnsProviderFailed) as refused:
        dns_push_plan(domain=domain)
    assert "public internet addresses" in refused.value.message


def test_errors_do_not_tell_which_internal_ports_are_open(make_domain, tenants, autosetup):
    import socket

    from mailherd.dns.services import DnsProviderFailed

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    domain = make_domain("ports.test")
    actor = Actor.for_user(tenants.alice)
    account = dns_provider_account_create(
        actor=actor,
        organization=tenants.acme,
        name="closed",
        provider="powerdns",
        options={"auth_token": "k", "pdns_server": f"http://127.0.0.1:{closed}"},
    )
    dns_provider_link(actor=actor, domain=domain, account_id=account.pk)
    with pytest.raises(DnsProviderFailed) as error:
        dns_push_plan(domain=domain)
    message = error.value.message
    assert "could not be reached" in message
    for leak in (str(closed), "127.0.0.1", "Errno", "Connection refused", "Traceback"):
        assert leak not in message


# --- the plan's dns_autosetup -----------------------------------------------------------------


def test_without_dns_autosetup_in_the_plan_nothing_reaches_a_provider(
    make_domain, server_dns, tenants, settings, client
):
    from mailherd.dns.models import DnsProviderAccount
    from mailherd.dns.services import FeatureNotInPlan

    assert "dns_autosetup" not in tenants.acme.plan.features  # Starter
    settings.MAILHERD_ALLOWED_TARGETS = ["127.0.0.1/32"]
    domain = make_domain("noplan.test")
    actor = Actor.for_user(tenants.alice)
    with pytest.raises(FeatureNotInPlan) as refused:
        dns_provider_account_create(
            actor=actor,
            organization=tenants.acme,
            name="pdns",
            provider="powerdns",
            options={
                "auth_token": API_KEY,
                "pdns_server": f"http://127.0.0.1:{server_dns.api_port}",
            },
        )
    assert refused.value.http_status == 403 and "Starter" in refused.value.message
    # an account from before a downgrade cannot be linked or pushed either
    account = DnsProviderAccount.objects.create(
        organization=tenants.acme, name="old", provider="powerdns", options="{}"
    )
    with pytest.raises(FeatureNotInPlan):
        dns_provider_link(actor=actor, domain=domain, account_id=account.pk)
    with pytest.raises(FeatureNotInPlan):
        dns_push_plan(domain=domain)

    client.force_login(tenants.alice)
    slug = tenants.acme.slug
    providers_page = client.get(f"/o/{slug}/dns-providers/")
    assert providers_page.status_code == 403
    assert b"not part of the Starter plan" in providers_page.content
    assert client.post(f"/o/{slug}/dns-providers/", {"provider": "powerdns"}).status_code == 403
    assert client.get(f"/o/{slug}/domains/noplan.test/dns/push/").status_code == 403
    assert client.post(f"/o/{slug}/domains/noplan.test/dns/provider/").status_code == 403
    records = client.get(f"/o/{slug}/domains/noplan.test/dns/").content.decode()
    assert "Automatic set-up is not part of the Starter plan" in records
    assert "Manage DNS provider access" not in records
    assert tenants.acme.dns_provider_accounts.count() == 1  # only the old one
    # its credentials can still be removed
    assert "Saved DNS provider access" in providers_page.content.decode()
    client.post(f"/o/{slug}/dns-providers/{account.pk}/delete/")
    assert not tenants.acme.dns_provider_accounts.exists()


def test_only_offered_providers_can_be_added(tenants, autosetup, client):
    from mailherd.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        dns_provider_account_create(
            actor=Actor.for_user(tenants.alice),
            organization=tenants.acme,
            name="gandi",
            provider="gandi",
            options={"auth_token": "x"},
        )
    client.force_login(tenants.alice)
    page = client.get(f"/o/{tenants.acme.slug}/dns-providers/").content.decode()
    options = set(__import__("re").findall(r'<option value="([a-z]+)">', page))
    assert options == {"powerdns", "cloudflare"}
