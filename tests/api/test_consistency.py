"""API answers are consistent: conflict codes, validation locations, one 404 text, counted lists."""

import pytest

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.hosting.services import alias_create, mailbox_create
from mailherd.plans.models import Plan
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db


@pytest.fixture
def auth(tenants):
    token = api_token_create(actor=Actor.system(), organization=tenants.acme, name="script")[1]
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _post(client, path, body, auth):
    return client.post(path, body, content_type="application/json", **auth)


def test_a_duplicate_domain_is_409_domain_exists(client, tenants, auth):
    assert _post(client, "/api/v1/domains", {"name": "acme.test"}, auth).status_code == 201
    again = _post(client, "/api/v1/domains", {"name": "ACME.test"}, auth)
    assert again.status_code == 409
    assert again.json()["code"] == "domain_exists"
    assert again.json()["message"] == "ACME.test is already one of your domains."


def test_a_taken_mailbox_address_is_named_before_the_plan_limit(client, tenants, auth):
    verified_domain(tenants.acme, "acme.test")
    plan = Plan.objects.get(slug="starter")
    for i in range(plan.max_mailboxes):
        mailbox_create(
            actor=Actor.system(), organization=tenants.acme, address=f"m{i}@acme.test", quota_mb=10
        )
    taken = _post(client, "/api/v1/mailboxes", {"address": "m0@acme.test", "quota_mb": 10}, auth)
    assert taken.status_code == 409 and taken.json()["code"] == "address_in_use"
    assert taken.json()["message"] == "m0@acme.test is already a mailbox."
    new = _post(client, "/api/v1/mailboxes", {"address": "new@acme.test", "quota_mb": 10}, auth)
    assert new.status_code == 409 and new.json()["code"] == "plan_limit_exceeded"


def test_a_taken_alias_address_is_named_before_the_plan_limit(client, tenants, auth):
    verified_domain(tenants.acme, "acme.test")
    mailbox_create(
        actor=Actor.system(), organization=tenants.acme, address="ann@acme.test", quota_mb=10
    )
    plan = Plan.objects.get(slug="starter")
    for i in range(plan.max_aliases):
        alias_create(
            actor=Actor.system(),
            organization=tenants.acme,
            address=f"a{i}@acme.test",
            goto=["ann@acme.test"],
        )
    taken = _post(
        client, "/api/v1/aliases", {"address": "a0@acme.test", "goto": ["ann@acme.test"]}, auth
    )
    assert taken.status_code == 409 and taken.json()["code"] == "address_in_use"


def test_validation_errors_name_the_field_once(client, tenants, auth):
    response = _post(client, "/api/v1/domains", {}, auth)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"][0]["loc"] == ["body", "name"]
    assert body["field"] == "name"
    assert body["message"] == "name: Field required"
    bad_query = client.get("/api/v1/mailboxes?limit=0", **auth)
    assert bad_query.status_code == 422 and bad_query.json()["errors"][0]["loc"] == [
        "query",
        "limit",
    ]


@pytest.mark.parametrize(
    "method,path,text",
    [
        ("get", "/api/v1/domains/nope.test", "No domain nope.test in this organization."),
        ("post", "/api/v1/domains/nope.test/verify", "No domain nope.test in this organization."),
        ("delete", "/api/v1/domains/nope.test", "No domain nope.test in this organization."),
        ("get", "/api/v1/mailboxes/x@nope.test", "No mailbox x@nope.test in this organization."),
        ("delete", "/api/v1/mailboxes/x@nope.test", "No mailbox x@nope.test in this organization."),
        ("get", "/api/v1/aliases/x@nope.test", "No alias x@nope.test in this organization."),
        ("delete", "/api/v1/aliases/x@nope.test", "No alias x@nope.test in this organization."),
        ("get", "/api/v1/webhooks/999", "No webhook endpoint 999 in this organization."),
    ],
)
def test_one_404_text(client, tenants, auth, method, path, text):
    response = getattr(client, method)(path, **auth)
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": text}


def test_lists_carry_the_total_and_page_by_cursor(client, tenants, auth):
    verified_domain(tenants.acme, "acme.test")
    verified_domain(tenants.acme, "acme.example")
    for local in ("e", "a", "d", "b", "c"):
        mailbox_create(
            actor=Actor.system(),
            organization=tenants.acme,
            address=f"{local}@acme.test",
            quota_mb=10,
        )
    mailbox_create(
        actor=Actor.system(), organization=tenants.acme, address="z@acme.example", quota_mb=10
    )
    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/v1/mailboxes?domain=acme.test&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, **auth).json()
        assert page["count"] == 5
        seen += [m["address"] for m in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [f"{x}@acme.test" for x in "abcde"]
    search = client.get("/api/v1/mailboxes?search=z@", **auth).json()
    assert search["count"] == 1 and search["items"][0]["address"] == "z@acme.example"
    domains = client.get("/api/v1/domains?search=example", **auth).json()
    assert domains["count"] == 1 and domains["items"][0]["name"] == "acme.example"
    assert client.get("/api/v1/domains?status=active", **auth).json()["count"] == 0
    assert client.get("/api/v1/aliases", **auth).json() == {
        "count": 0,
        "items": [],
        "next_cursor": None,
    }


def test_a_forged_cursor_is_refused_in_words(client, tenants, auth):
    response = client.get("/api/v1/mailboxes?cursor=not-a-cursor", **auth)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid" and "cursor" in response.json()["message"]


def test_every_operation_documents_its_errors(client):
    schema = client.get("/api/v1/openapi.json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert {"401", "403", "404", "422", "429", "500"} <= codes, (method, path)
            if method != "get":
                assert "409" in codes, (method, path)


def test_every_operation_has_a_summary_and_a_description(db):
    """Generated summaries ("Mailboxes Create") and empty descriptions are not documentation."""
    import re

    from mailherd.api.v1 import api

    schema = api.get_openapi_schema()
    bare = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            generated = operation["operationId"].split("_api_")[-1].replace("_", " ").title()
            summary = operation.get("summary", "")
            if not summary or summary == generated or not operation.get("description"):
                bare.append(f"{method.upper()} {path}")
            assert not re.search(r"(?i)mailherd", operation.get("description", "")), path
    assert not bare, "undocumented: " + ", ".join(bare)
