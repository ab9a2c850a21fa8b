"""The product's main path through the REST API, against the simulator over HTTP and a real DNS server."""

import pytest

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.hosting.provisioning import outbox_drain

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


@pytest.fixture
def api(client, tenants):
    _token, plaintext = api_token_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="e2e"
    )

    class Api:
        def call(self, method, path, json=None):
            response = getattr(client, method)(
                "/api/v1" + path,
                data=json,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {plaintext}",
            )
            return response.status_code, (response.json() if response.content else None)

    return Api()


def test_domain_verify_dkim_ten_mailboxes_and_the_eleventh_refused(
    api, sim, mail_server, dns_nameserver
):
    # 1. add the domain: unverified, with its TXT record to publish
    status, domain = api.call("post", "/domains", {"name": "acme-e2e.test"})
    assert status == 201, domain
    assert domain["status"] == "unverified"
    txt = domain["verification"]
    assert txt["type"] == "TXT" and txt["name"] == "_domain-verify.acme-e2e.test"

    # 2. verifying before the record exists says so, and nothing reaches Mailcow
    status, error = api.call("post", "/domains/acme-e2e.test/verify")
    assert status == 409 and error["code"] == "domain_not_verified"
    assert sim.request_count() == 0

    # 3. publish it in real DNS; verify; the worker provisions domain and DKIM
    dns_nameserver.create_zone("acme-e2e.test")
    dns_nameserver.set_record("acme-e2e.test", txt["name"], "TXT", [txt["value"]])
    status, domain = api.call("post", "/domains/acme-e2e.test/verify")
    assert status == 200 and domain["status"] == "pending"
    outbox_drain()
    status, domain = api.call("get", "/domains/acme-e2e.test")
    assert domain["status"] == "active"
    types = {(r["type"], r["name"]) for r in domain["records"]}
    assert ("MX", "acme-e2e.test") in types and ("TXT", "dkim._domainkey.acme-e2e.test") in types
    from mailherd.mailcow.services import client_for

    mailcow = client_for(mail_server)
    assert mailcow.get_domain("acme-e2e.test") is not None
    assert mailcow.get_dkim("acme-e2e.test").txt.startswith("v=DKIM1")

    # 4. ten mailboxes (the starter plan's limit)
    for number in range(10):
        status, body = api.call(
            "post", "/mailboxes", {"address": f"user{number}@acme-e2e.test", "quota_mb": 512}
        )
        assert status == 201, body
        assert body["status"] == "pending" and len(body["password"]) >= 10
    outbox_drain()
    assert len(mailcow.list_mailboxes("acme-e2e.test")) == 10
    status, body = api.call("get", "/mailboxes/user3@acme-e2e.test")
    assert body["status"] == "active" and body["quota_mb"] == 512

    # 5. the eleventh is refused before Mailcow is called
    before = sim.request_count()
    status, error = api.call(
        "post", "/mailboxes", {"address": "user10@acme-e2e.test", "quota_mb": 512}
    )
    assert status == 409
    assert error["code"] == "plan_limit_exceeded"
    assert (error["limit_name"], error["limit"], error["used"]) == ("mailboxes", 10, 10)
    assert "Upgrade" in error["message"]
    outbox_drain()
    assert sim.request_count() == before
    status, usage = api.call("get", "/usage")
    assert usage["mailboxes"] == {"used": 10, "limit": 10}
    assert usage["storage_mb"] == {"used": 5120, "limit": 10240}


def test_bulk_create_applies_the_same_rules_item_by_item(api, tenants, mail_server, sim):
    from tests.hosting.conftest import verified_domain

    verified_domain(tenants.acme, "acme.test")
    items = [{"address": f"b{n}@acme.test", "quota_mb": 100} for n in range(9)]
    items += [
        {"address": "b0@acme.test", "quota_mb": 100},  # duplicate of the first
        {"address": "bad address@acme.test"},
        {"address": "weak@acme.test", "password": "123"},
        {"address": "last@acme.test", "quota_mb": 100},  # the tenth: fits
        {"address": "over@acme.test", "quota_mb": 100},  # the eleventh: over the plan
    ]
    status, body = api.call("post", "/mailboxes/bulk", {"mailboxes": items})
    assert status == 200, body
    assert (body["created"], body["refused"]) == (10, 4)
    codes = {r["address"]: r.get("code") for r in body["results"] if r["result"] == "refused"}
    assert codes == {
        "b0@acme.test": "address_in_use",
        "bad address@acme.test": "invalid_address",
        "weak@acme.test": "invalid",
        "over@acme.test": "plan_limit_exceeded",
    }
    created = [r for r in body["results"] if r["result"] == "created"]
    assert all(len(r["mailbox"]["password"]) >= 20 for r in created)  # generated, shown once
    outbox_drain()
    from mailherd.mailcow.services import client_for

    assert len(client_for(mail_server).list_mailboxes("acme.test")) == 10
    status, body = api.call(
        "post", "/mailboxes/bulk", {"mailboxes": [{"address": "x@acme.test"}] * 501}
    )
    assert status == 422
