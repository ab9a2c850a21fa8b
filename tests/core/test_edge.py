"""Crafted input never makes a 500: NUL bytes, oversized bodies, unknown API paths, bugs."""

import json

import pytest

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(tenants):
    _token, plaintext = api_token_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="edge"
    )
    return plaintext


@pytest.fixture
def api(client, token):
    def call(method, path, body=None, content_type="application/json", **extra):
        data = json.dumps(body) if isinstance(body, dict | list) else body
        kwargs = {"content_type": content_type} if data is not None else {}
        return getattr(client, method)(
            "/api/v1" + path, data=data, HTTP_AUTHORIZATION=f"Bearer {token}", **kwargs, **extra
        )

    return call


def assert_json(response, status, code=None):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["message"]
    if code:
        assert body["code"] == code, body
    return body


@pytest.mark.parametrize(
    "path",
    [
        "/mailboxes?search=%00",
        "/mailboxes?domain=%00",
        "/aliases?search=a%00b",
        "/audit?action=%00",
        "/mailboxes/a%00b@acme.test",
        "/domains/x%00.test",
    ],
)
def test_a_nul_in_the_api_path_or_query_is_a_json_400(api, path):
    assert_json(api("get", path), 400, "bad_request")


@pytest.mark.parametrize(
    "path, body",
    [
        ("/mailboxes", {"address": "a\u0000@acme.test", "name": "A"}),
        ("/mailboxes", {"address": "a@acme.test", "name": "A\u0000B"}),
        ("/domains", {"name": "x\u0000.test"}),
        ("/aliases", {"address": "x@acme.test", "goto": ["b@c.test\u0000"]}),
    ],
)
def test_a_nul_in_a_json_body_is_a_json_400(api, path, body):
    assert_json(api("post", path, body), 400, "bad_request")


def test_an_escaped_backslash_before_u0000_is_not_a_nul(api):
    # "\\u0000" in JSON is a backslash then "u0000": not refused as NUL (the view decides).
    response = api("post", "/domains", '{"name": "x\\\\u0000.test"}')
    assert 400 < response.status_code < 500, response.content[:200]  # a 422 about the name


def test_a_nul_in_a_form_body_is_a_plain_400(client):
    response = client.post("/accounts/login/", {"login": "a\u0000@acme.test", "password": "x"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")


def test_a_nul_in_a_portal_query_is_a_plain_400(alice_client, tenants):
    response = alice_client.get(f"/o/{tenants.acme.slug}/mailboxes/?search=%00")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert b"Mailherd" not in response.content


def test_a_nul_sent_to_the_mcp_endpoint_is_a_json_rpc_error(client):
    """An agent's MCP client parses JSON-RPC, not a text page."""
    body = '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "a\\u0000b"}}'
    response = client.post("/mcp", body, content_type="application/json")
    assert response.status_code == 400
    answer = response.json()
    assert answer["jsonrpc"] == "2.0" and answer["id"] is None
    assert answer["error"]["code"] == -32600 and "NUL" in answer["error"]["message"]


def test_client_set_up_urls_refuse_a_nul(client):
    response = client.get("/mail/config-v1.1.xml?emailaddress=x@%00")
    assert response.status_code == 400
    body = b"<Autodiscover><Request><EMailAddress>x@\x00</EMailAddress></Request></Autodiscover>"
    response = client.post("/autodiscover/autodiscover.xml", data=body, content_type="text/xml")
    assert response.status_code == 400
    response = client.post(
        "/autodiscover/autodiscover.xml",
        data=b"<EMailAddress>x@a&#0;b.test</EMailAddress>",
        content_type="application/xml",
    )
    assert response.status_code == 400


def test_a_body_over_the_upload_limit_is_a_json_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"address": "a@acme.test", "name": "x" * 2000}
    assert_json(api("post", "/mailboxes", body), 413, "request_too_large")


def test_an_unknown_api_path_is_a_json_404(api, client):
    body = assert_json(api("get", "/no-such-thing"), 404, "not_found")
    assert "<" not in body["message"]
    assert_json(client.get("/api/v1/no/such/thing"), 404, "not_found")


def test_an_unhandled_error_in_the_api_is_a_json_500(api, monkeypatch):
    from mailherd.hosting import api as hosting_api

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(hosting_api, "cursor_page", broken)
    body = assert_json(api("get", "/domains"), 500, "server_error")
    assert "hunter2" not in body["message"] and "RuntimeError" not in body["message"]


@pytest.mark.parametrize(
    "query",
    ["limit=-1", "limit=0", "limit=9223372036854775808", "limit=99999999999999999999999"],
)
def test_a_negative_or_huge_limit_is_a_json_422(api, query):
    for path in ("/mailboxes", "/aliases", "/domains", "/audit"):
        assert_json(api("get", f"{path}?{query}"), 422)


@pytest.mark.parametrize("query", ["offset=-1", "offset=9223372036854775808", "offset=100"])
def test_an_offset_is_a_json_422_pointing_at_the_cursor(api, query):
    for path in ("/mailboxes", "/aliases", "/domains"):
        body = assert_json(api("get", f"{path}?{query}"), 422, "invalid")
        assert body["field"] == "offset" and "cursor" in body["message"]


def test_a_method_the_path_does_not_take_is_a_json_405(api):
    response = api("put", "/usage", {})
    body = assert_json(response, 405, "method_not_allowed")
    assert body["message"] and "GET" in response["Allow"]


@pytest.mark.parametrize(
    "path",
    [
        "/webhooks/99999999999999999999999",
        "/sync-jobs/9223372036854775808",
        "/tasks?rule=185331456087258526824440318392270848",
    ],
)
def test_a_number_too_big_for_the_database_never_makes_a_500(api, path):
    response = api("get", path)  # SQLite cannot hold it (422); PostgreSQL finds nothing
    assert response.status_code < 500, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
