"""The DNS pages' features through the REST API: settings, DMARC schedule, providers and push
(with its dry run), against the real PowerDNS; outsiders see nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.core.models import AuditEvent
from mailherd.dns.models import DmarcStage, DnsPush
from mailherd.plans.models import Plan
from tests.dns.conftest import expected
from tests.dns.test_push_powerdns import zone_rrsets
from tests.support.powerdns import API_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, tenants):
    """Requests as Acme's token; every plan feature the DNS endpoints may need."""
    plan = tenants.acme.plan
    plan.features = sorted(set(plan.features) | {"api", "dns_autosetup"})
    plan.save(update_fields=["features"])
    _token, plaintext = api_token_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="dns"
    )

    def call(method, path, body=None, token=plaintext):
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        if body is not None:
            kwargs.update(data=body, content_type="application/json")
        elif method != "get":
            kwargs.update(data=b"", content_type="application/json")  # as curl -X POST sends
        return getattr(client, method)("/api/v1" + path, **kwargs)

    return call


@pytest.fixture
def outsider(client, tenants):
    plan = tenants.globex.plan
    plan.features = sorted(set(plan.features) | {"api", "dns_autosetup"})
    plan.save(update_fields=["features"])
    return api_token_create(
        actor=Actor.for_user(tenants.bob), organization=tenants.globex, name="bob"
    )[1]


def test_dns_settings_are_read_and_changed(make_domain, api):
    make_domain("api-dns.test")
    assert api("get", "/domains/api-dns.test/dns-settings").json()["dmarc_policy"] == "none"
    response = api(
        "patch",
        "/domains/api-dns.test/dns-settings",
        {"dmarc_policy": "quarantine", "dmarc_pct": 50, "spf_include": ["_spf.google.com"]},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["dmarc_policy"], body["dmarc_pct"], body["spf_include"]) == (
        "quarantine",
        50,
        ["_spf.google.com"],
    )
    # the records to publish follow
    domain_json = api("get", "/domains/api-dns.test").json()
    dmarc = next(r for r in domain_json["records"] if r["name"].startswith("_dmarc."))
    assert "p=quarantine" in dmarc["value"] and "pct=50" in dmarc["value"]
    assert AuditEvent.objects.filter(action="dns.settings_update").exists()


def test_bad_settings_are_refused_in_words(make_domain, api):
    make_domain("api-dns.test")
    response = api("patch", "/domains/api-dns.test/dns-settings", {"dmarc_policy": "maybe"})
    assert response.status_code == 422
    assert "none, quarantine or reject" in response.json()["message"]
    response = api("patch", "/domains/api-dns.test/dns-settings", {"dmarc_pct": 0})
    assert response.status_code == 422


def test_the_dmarc_schedule_is_set_and_read(make_domain, api):
    make_domain("api-dns.test")
    response = api("put", "/domains/api-dns.test/dmarc-schedule", {"recommended": True})
    assert response.status_code == 200, response.content
    assert [(s["policy"], s["pct"]) for s in response.json()["stages"]] == [
        ("quarantine", 25),
        ("quarantine", 100),
        ("reject", 100),
    ]
    soon = timezone.now() + timedelta(days=3)
    response = api(
        "put",
        "/domains/api-dns.test/dmarc-schedule",
        {"stages": [{"policy": "reject", "pct": 100, "starts_at": soon.isoformat()}]},
    )
    assert response.status_code == 200
    assert DmarcStage.objects.filter(applied_at__isnull=True).count() == 1
    # a loosening or a past stage is refused
    past = timezone.now() - timedelta(days=1)
    response = api(
        "put",
        "/domains/api-dns.test/dmarc-schedule",
        {"stages": [{"policy": "quarantine", "pct": 10, "starts_at": past.isoformat()}]},
    )
    assert response.status_code == 422
    assert api("get", "/domains/api-dns.test/dmarc-schedule").json()["stages"][0]["policy"] == (
        "reject"
    )


def test_push_dry_run_shows_the_diff_then_the_push_applies_it(
    make_domain, server_dns, api, settings
):
    settings.MAILHERD_ALLOW_PRIVATE_TARGETS = True  # the PowerDNS here is on loopback
    domain = make_domain("api-push.test")
    account = api(
        "post",
        "/dns-providers",
        {
            "name": "pdns",
            "provider": "powerdns",
            "options": {
                "auth_token": API_KEY,
                "pdns_server": f"http://127.0.0.1:{server_dns.api_port}",
                "pdns_server_id": "localhost",
            },
        },
    )
    assert account.status_code == 201, account.content
    assert API_KEY not in account.content.decode()
    listed = api("get", "/dns-providers").json()
    assert listed["count"] == 1 and API_KEY not in str(listed)
    link = api("put", "/domains/api-push.test/dns-provider", {"account": account.json()["id"]})
    assert link.status_code == 200 and link.json()["dns_provider"] == account.json()["id"]

    dry = api("post", "/domains/api-push.test/dns-push?dry_run=1")
    assert dry.status_code == 200, dry.content
    plan = dry.json()
    records = [r for r in expected(domain) if not r.optional]
    assert plan["dry_run"] and not plan["applied"]
    assert {(c["action"], c["type"], c["name"]) for c in plan["changes"]} == {
        ("create", r.type, r.name) for r in records
    }
    assert not DnsPush.objects.exists()  # a dry run changes nothing
    assert not {name for name, _t, _c in zone_rrsets(server_dns, "api-push.test")} & {
        r.name for r in records
    }

    pushed = api("post", "/domains/api-push.test/dns-push", {"fingerprint": plan["fingerprint"]})
    assert pushed.status_code == 200, pushed.content
    assert pushed.json()["applied"]
    assert DnsPush.objects.get().status == "applied"
    names = {name for name, _t, _c in zone_rrsets(server_dns, "api-push.test")}
    assert {r.name for r in records} <= names
    # the old fingerprint no longer matches the (now empty) diff
    stale = api("post", "/domains/api-push.test/dns-push", {"fingerprint": plan["fingerprint"]})
    assert stale.status_code == 409


def test_an_outsider_sees_and_changes_nothing(make_domain, api, outsider):
    make_domain("api-dns.test")
    for method, path, body in [
        ("get", "/domains/api-dns.test/dns-settings", None),
        ("patch", "/domains/api-dns.test/dns-settings", {"dmarc_policy": "reject"}),
        ("get", "/domains/api-dns.test/dmarc-schedule", None),
        ("put", "/domains/api-dns.test/dmarc-schedule", {"recommended": True}),
        ("put", "/domains/api-dns.test/dns-provider", {"account": None}),
        ("post", "/domains/api-dns.test/dns-push?dry_run=1", None),
    ]:
        response = api(method, path, body, token=outsider)
        assert response.status_code == 404, (method, path, response.status_code)
    assert api("get", "/domains/api-dns.test/dns-settings").json()["dmarc_policy"] == "none"


def test_provider_accounts_of_another_organization_are_invisible(api, outsider, tenants):
    from mailherd.dns.services import dns_provider_account_create

    account = dns_provider_account_create(
        actor=Actor.for_user(tenants.alice),
        organization=tenants.acme,
        name="acme-cf",
        provider="cloudflare",
        options={"auth_token": "secret-cf"},
    )
    assert api("get", "/dns-providers", token=outsider).json()["count"] == 0
    assert api("delete", f"/dns-providers/{account.pk}", token=outsider).status_code == 404
    assert api("delete", f"/dns-providers/{account.pk}").status_code == 204


def test_a_read_only_token_cannot_change_dns(make_domain, api, tenants):
    make_domain("api-dns.test")
    _t, read_only = api_token_create(
        actor=Actor.for_user(tenants.alice),
        organization=tenants.acme,
        name="ro",
        scopes=["*:read"],
    )
    assert api("get", "/domains/api-dns.test/dns-settings", token=read_only).status_code == 200
    response = api(
        "patch", "/domains/api-dns.test/dns-settings", {"dmarc_policy": "reject"}, token=read_only
    )
    assert response.status_code == 403 and response.json()["code"] == "insufficient_scope"


def test_without_automatic_dns_set_up_in_the_plan_push_is_refused(make_domain, api, tenants):
    make_domain("api-dns.test")
    Plan.objects.filter(pk=tenants.acme.plan_id).update(features=["api"])
    response = api("post", "/domains/api-dns.test/dns-push?dry_run=1")
    assert response.status_code == 403, response.content
