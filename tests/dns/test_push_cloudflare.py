"""Automatic set-up through Cloudflare's API v4, against a local stand-in that checks every request
against Cloudflare's documented forms (tests/support/cloudflare.py)."""

import json

import pytest

from mailherd.core.actors import Actor
from mailherd.dns.models import DnsPush
from mailherd.dns.services import (
    DnsProviderFailed,
    dns_provider_account_create,
    dns_provider_link,
    dns_push_apply,
    dns_push_plan,
)
from tests.dns.conftest import expected
from tests.support.cloudflare import CloudflareStandIn

pytestmark = pytest.mark.django_db

TOKEN = "cf-test-token"


@pytest.fixture
def cloudflare(settings):
    stand_in = CloudflareStandIn(token=TOKEN).start()
    settings.MAILHERD_CLOUDFLARE_API_URL = stand_in.url
    yield stand_in
    stand_in.stop()


@pytest.fixture
def linked(tenants, cloudflare):
    plan = tenants.acme.plan
    plan.features = sorted({*plan.features, "dns_autosetup"})
    plan.save()

    def link(domain, token=TOKEN, **options):
        actor = Actor.for_user(tenants.alice)
        account = dns_provider_account_create(
            actor=actor,
            organization=tenants.acme,
            name=f"cf-{domain.name}",
            provider="cloudflare",
            options={"auth_token": token, **options},
        )
        dns_provider_link(actor=actor, domain=domain, account_id=account.pk)
        return account

    return link


def _logical(stored: dict) -> tuple[str, str, str]:
    if stored["type"] == "MX":
        return (stored["name"], "MX", f"{stored['priority']} {stored['content']}")
    if stored["type"] == "SRV":
        d = stored["data"]
        return (stored["name"], "SRV", f"{d['priority']} {d['weight']} {d['port']} {d['target']}")
    return (stored["name"], stored["type"], stored["content"])


def _ours(record) -> tuple[str, str, str]:
    value = record.content.rstrip(".") if record.type != "TXT" else record.value
    return (record.name, record.type, value)


def test_the_push_creates_every_record_in_cloudflares_own_form(
    make_domain, cloudflare, linked, tenants
):
    domain = make_domain("cf.test")
    zone_id = cloudflare.add_zone("cf.test")
    linked(domain)
    records = [r for r in expected(domain) if not r.optional]

    changes, fingerprint = dns_push_plan(domain=domain)
    assert [(c.action, c.type, c.name) for c in changes] == [
        ("create", r.type, r.name) for r in records
    ]
    push = dns_push_apply(
        actor=Actor.for_user(tenants.alice), domain=domain, confirmed_fingerprint=fingerprint
    )

    assert cloudflare.violations == []
    assert push.status == DnsPush.Status.APPLIED
    stored = cloudflare.zone_records(zone_id)
    assert {_logical(r) for r in stored} == {_ours(r) for r in records}
    mx = next(r for r in stored if r["type"] == "MX")
    assert mx["content"] == "mail.provider.test" and mx["priority"] == 10  # priority apart
    assert all(r.get("proxied") is False for r in stored if r["type"] == "CNAME")
    srv = [r for r in stored if r["type"] == "SRV"]
    assert srv and all("content" not in json.loads(json.dumps(r["data"])) for r in srv)
    # a second preview has nothing left to do
    changes, _ = dns_push_plan(domain=domain)
    assert {c.action for c in changes} == {"keep"}


def test_the_push_replaces_the_old_mail_host_and_keeps_unrelated_txt(
    make_domain, cloudflare, linked, tenants
):
    domain = make_domain("cfmove.test")
    zone_id = cloudflare.add_zone("cfmove.test")
    cloudflare.add_record(
        zone_id, type="MX", name="cfmove.test", content="mx.oldhost.test", priority=20
    )
    cloudflare.add_record(
        zone_id, type="TXT", name="cfmove.test", content="v=spf1 include:_spf.oldhost.test ~all"
    )
    cloudflare.add_record(
        zone_id, type="TXT", name="cfmove.test", content='"google-site-verification=keep-me"'
    )
    linked(domain, zone_id=zone_id)  # a token scoped to one zone gives its id

    changes, fingerprint = dns_push_plan(domain=domain)
    assert {(c.type, c.value) for c in changes if c.action == "delete"} == {
        ("MX", "20 mx.oldhost.test"),
        ("TXT", "v=spf1 include:_spf.oldhost.test ~all"),
    }
    dns_push_apply(
        actor=Actor.for_user(tenants.alice), domain=domain, confirmed_fingerprint=fingerprint
    )
    assert cloudflare.violations == []
    contents = {r["content"] for r in cloudflare.zone_records(zone_id) if "content" in r}
    assert '"google-site-verification=keep-me"' in contents
    assert not any("oldhost" in c for c in contents)


def test_a_wrong_token_and_an_unknown_zone_are_plain_errors(
    make_domain, cloudflare, linked, tenants
):
    domain = make_domain("cfbad.test")
    cloudflare.add_zone("cfbad.test")
    linked(domain, token="wrong")
    with pytest.raises(DnsProviderFailed) as error:
        dns_push_plan(domain=domain)
    assert "refused the credentials" in error.value.message and "403" in error.value.message
    assert (
        "127.0.0.1" not in error.value.message and "Authentication error" not in error.value.message
    )

    other = make_domain("cfnozone.test")
    linked(other)
    with pytest.raises(DnsProviderFailed) as error:
        dns_push_plan(domain=other)
    assert "has no zone cfnozone.test" in error.value.message
