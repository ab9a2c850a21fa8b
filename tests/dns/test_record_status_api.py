"""GET /api/v1/domains/{name}: each record's last known status, what was found and when."""

import pytest

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.dns.services import domain_check
from tests.dns.conftest import expected, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_get(client, tenants):
    _token, plaintext = api_token_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="status"
    )

    def get(path):
        response = client.get("/api/v1" + path, HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        assert response.status_code == 200, response.content
        return response.json()

    return get


def by_type_name(domain_json) -> dict:
    return {(r["type"], r["name"]): r for r in domain_json["records"]}


def test_records_are_unchecked_until_the_first_check_then_show_what_dns_said(
    make_domain, server_dns, api_get
):
    domain = make_domain("status.test")
    before = api_get("/domains/status.test")
    assert {r["status"] for r in before["records"]} == {"unchecked"}
    assert {r["checked_at"] for r in before["records"]} == {None}

    # everything published except the MX; the DMARC record is someone else's
    publish(
        server_dns,
        expected(domain),
        zone="status.test",
        skip={"mx"},
        replace={"dmarc": ["v=DMARC1; p=reject; rua=mailto:x@elsewhere.test"]},
    )
    domain_check(domain=domain)

    records = by_type_name(api_get("/domains/status.test"))
    assert records[("MX", "status.test")]["status"] == "missing"
    dmarc = records[("TXT", "_dmarc.status.test")]
    assert dmarc["status"] == "wrong" and dmarc["found"] == [
        "v=DMARC1; p=reject; rua=mailto:x@elsewhere.test"
    ]
    assert records[("TXT", "dkim._domainkey.status.test")]["status"] == "ok"
    assert all(r["checked_at"] for r in records.values())
    assert "unchecked" not in {r["status"] for r in records.values()}


def test_a_check_that_could_not_reach_dns_keeps_the_last_known_status(
    make_domain, server_dns, api_get, settings
):
    domain = make_domain("known.test")
    publish(server_dns, expected(domain), zone="known.test")
    domain_check(domain=domain)
    first = by_type_name(api_get("/domains/known.test"))

    settings.MAILHERD_DNS_NAMESERVERS = ["127.0.0.1:9"]  # nothing answers
    settings.MAILHERD_DNS_TIMEOUT = 1
    domain_check(domain=domain)

    later = by_type_name(api_get("/domains/known.test"))
    assert {r["status"] for r in later.values()} == {"ok"}
    assert later == first  # same statuses and the time of the check that saw them


def test_an_unverified_domain_shows_its_ownership_record_status(tenants, dns_nameserver, api_get):
    from mailherd.hosting.services import domain_add

    domain = domain_add(actor=Actor.system(), organization=tenants.acme, name="claim.test")
    dns_nameserver.create_zone("claim.test")
    domain_check(domain=domain)
    (record,) = api_get("/domains/claim.test")["records"]
    assert record["status"] == "missing" and record["checked_at"]

    dns_nameserver.set_record(
        "claim.test", domain.verification_record_name, "TXT", [domain.verification_record_value]
    )
    domain_check(domain=domain)
    (record,) = api_get("/domains/claim.test")["records"]
    assert record["status"] == "ok"
