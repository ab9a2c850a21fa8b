"""The MCP transport and JSON-RPC layer: handshake, auth, feature gate, errors."""

import pytest

from mailherd.plans.models import Plan
from tests.mcp.conftest import Mcp, _token

pytestmark = pytest.mark.django_db

EXPECTED_TOOLS = {
    "get_usage", "list_domains", "add_domain", "get_domain", "verify_domain", "check_domain_dns",
    "delete_domain", "list_mailboxes", "create_mailbox", "update_mailbox", "delete_mailbox",
    "list_aliases", "create_alias", "update_alias", "delete_alias",
}


def test_initialize_handshake(acme_mcp, settings):
    settings.MAILHERD_PRODUCT_NAME = "Herdmail Pro"
    body = acme_mcp.rpc(
        "initialize",
        {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    )
    result = body["result"]
    assert result["protocolVersion"] == "2025-06-18"
    assert result["capabilities"] == {"tools": {}}
    assert result["serverInfo"]["name"] == "Herdmail Pro"
    assert result["serverInfo"]["version"]

    response = acme_mcp.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert response.status_code == 202 and response.content == b""
    assert acme_mcp.rpc("ping")["result"] == {}


def test_initialize_answers_its_own_version_to_an_unknown_one(acme_mcp):
    result = acme_mcp.rpc("initialize", {"protocolVersion": "1999-01-01"})["result"]
    assert result["protocolVersion"] == "2025-06-18"


def test_tools_list_names_and_schemas(acme_mcp):
    tools = {t["name"]: t for t in acme_mcp.rpc("tools/list")["result"]["tools"]}
    assert set(tools) == EXPECTED_TOOLS
    for tool in tools.values():
        assert tool["description"]
        assert tool["inputSchema"]["type"] == "object"
    create = tools["create_mailbox"]["inputSchema"]
    assert create["required"] == ["address"]
    assert {"address", "password", "quota_mb", "name"} == set(create["properties"])
    assert create["additionalProperties"] is False
    assert tools["delete_domain"]["inputSchema"]["required"] == ["name", "confirm"]
    assert tools["create_alias"]["inputSchema"]["properties"]["goto"]["type"] == "array"
    listing = tools["list_mailboxes"]["inputSchema"]["properties"]
    assert {"domain", "search", "limit", "offset"} == set(listing)
    assert listing["limit"]["maximum"] == 1000
    assert tools["delete_mailbox"]["annotations"]["destructiveHint"] is True
    assert tools["get_usage"]["inputSchema"]["properties"] == {}


def test_batch_requests(acme_mcp):
    response = acme_mcp.post([
        {"jsonrpc": "2.0", "id": "a", "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": "b", "method": "nope"},
    ])
    assert response.status_code == 200
    answers = {a["id"]: a for a in response.json()}
    assert answers["a"]["result"] == {}
    assert answers["b"]["error"]["code"] == -32601


@pytest.mark.parametrize("header", [None, "Bearer nope", "Bearer mh_deadbeef_wrong", "Basic abc"])
def test_bad_or_missing_token_is_401(client, tenants, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.post(
        "/mcp", data={"jsonrpc": "2.0", "id": 1, "method": "ping"}, content_type="application/json", **extra
    )
    assert response.status_code == 401
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert body["error"]["code"] == -32001
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_starter_plan_has_no_mcp_404(client, tenants):
    assert not Plan.objects.get(slug="starter").has_feature("mcp")
    mcp = Mcp(client, _token(tenants.acme))
    response = mcp.post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
    assert response.status_code == 404


def test_hosting_switched_off_hides_and_refuses_the_tools(acme_mcp):
    from mailherd.operator.models import FeatureSwitch

    FeatureSwitch.objects.create(name="email_hosting", enabled=False)
    assert acme_mcp.rpc("tools/list")["result"]["tools"] == []
    result = acme_mcp.call("list_domains")
    assert result["isError"] is True and result["structuredContent"]["code"] == "not_found"


def test_get_is_405(client, acme_mcp):
    response = client.get("/mcp", HTTP_AUTHORIZATION=f"Bearer {acme_mcp.token}")
    assert response.status_code == 405
    assert "POST" in response["Allow"]


def test_no_csrf_token_needed(tenants, acme_mcp):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert Mcp(strict, acme_mcp.token).rpc("ping")["result"] == {}


def test_malformed_json_is_parse_error(acme_mcp):
    response = acme_mcp.post("{not json", raw=True)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700


@pytest.mark.parametrize("body", [{"id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": 1}, 42, []])
def test_invalid_request(acme_mcp, body):
    assert acme_mcp.post(body).json()["error"]["code"] == -32600


def test_unknown_method(acme_mcp):
    body = acme_mcp.rpc("resources/list")
    assert body["error"]["code"] == -32601


def test_unknown_tool_and_bad_params_are_invalid_params(acme_mcp):
    assert acme_mcp.rpc("tools/call", {"name": "format_disk"})["error"]["code"] == -32602
    bad = [
        {"name": "create_mailbox", "arguments": {}},
        {"name": "create_mailbox", "arguments": {"address": "a@b.test", "bogus": 1}},
        {"name": "create_mailbox", "arguments": {"address": "a@b.test", "quota_mb": "lots"}},
        {"name": "list_mailboxes", "arguments": {"limit": 0}},
        {"name": "create_alias", "arguments": {"address": "a@b.test", "goto": "c@d.test"}},
        {"name": "get_domain", "arguments": ["acme.test"]},
    ]
    for params in bad:
        error = acme_mcp.rpc("tools/call", params)["error"]
        assert error["code"] == -32602, params
    assert acme_mcp.rpc("tools/call", "x")["error"]["code"] == -32602


def test_unsupported_protocol_version_header(acme_mcp):
    response = acme_mcp.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, mcp_protocol_version="1.0")
    assert response.status_code == 400
    ok = acme_mcp.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, mcp_protocol_version="2025-06-18")
    assert ok.status_code == 200


def test_foreign_origin_refused(acme_mcp):
    response = acme_mcp.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, origin="https://evil.example")
    assert response.status_code == 403


def test_the_rest_apis_rate_limit_applies(acme_mcp, settings):
    settings.MAILHERD_API_RATE = "2/m"
    assert acme_mcp.rpc("ping")["result"] == {}
    assert acme_mcp.rpc("ping")["result"] == {}
    response = acme_mcp.post({"jsonrpc": "2.0", "id": 3, "method": "ping"})
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
