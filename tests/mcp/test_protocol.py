"""The MCP service speaks the protocol through the official SDK: sessions, JSON or SSE, auth."""

import json

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from mailherd.core.models import AuditEvent
from mailherd.hosting.models import Mailbox
from mailherd.mcp.tools import TOOLS
from tests.hosting.conftest import verified_domain
from tests.mcp.conftest import _token, on_business

pytestmark = pytest.mark.django_db(transaction=True)


def _raw(url, token, body, **headers):
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        **headers,
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(
        url, content=json.dumps(body) if not isinstance(body, bytes) else body, headers=headers
    )


INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


def test_initialize_list_and_call_every_tool(acme_mcp, tenants, mail_server):
    """The official client: initialize, list the tools, call each one."""
    assert acme_mcp.initialized.server_info.name
    tools = {t.name: t for t in acme_mcp.tools()}
    assert set(tools) == set(TOOLS)
    for tool in tools.values():
        assert tool.input_schema["type"] == "object"
        annotations = tool.annotations
        assert annotations.read_only_hint is TOOLS[tool.name].read_only
        assert annotations.destructive_hint is TOOLS[tool.name].destructive
        if annotations.destructive_hint:
            assert "confirm" in tool.input_schema["required"], tool.name
    verified_domain(tenants.acme, "acme.test")
    arguments = {
        "get_usage": {},
        "list_domains": {},
        "add_domain": {"name": "second.test"},
        "get_domain": {"name": "acme.test"},
        "verify_domain": {"name": "acme.test"},
        "check_domain_dns": {"name": "second.test"},
        "list_mailboxes": {},
        "create_mailbox": {"address": "jane@acme.test", "quota_mb": 100},
        "update_mailbox": {"address": "jane@acme.test", "name": "Jane"},
        "list_aliases": {},
        "create_alias": {"address": "info@acme.test", "goto": ["jane@acme.test"]},
        "update_alias": {"address": "info@acme.test", "active": False},
        "delete_alias": {"address": "info@acme.test", "confirm": True},
        "delete_mailbox": {"address": "jane@acme.test", "confirm": True},
        "delete_domain": {"name": "second.test", "confirm": "second.test"},
    }
    called = set()
    for name in arguments:
        if name not in TOOLS:
            continue
        result = acme_mcp.call(name, **arguments[name])
        assert result["isError"] is False, (name, result)
        assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
        called.add(name)
    for name in set(TOOLS) - called:  # tools other features added: each answers something
        result = acme_mcp.call(name)
        assert isinstance(result["isError"], bool)
    # Every call is audited as MCP with the tool's name.
    audited = {e.data["tool"] for e in AuditEvent.objects.filter(action="mcp.call")}
    assert set(arguments) & set(TOOLS) <= audited
    create = AuditEvent.objects.get(action="mailbox.create")
    assert create.actor_kind == "mcp" and create.actor_label.startswith(
        "MCP create_mailbox (API token"
    )


def test_json_answers_for_clients_that_ask_for_json(agent_for, tenants):
    agent = agent_for(on_business(tenants.acme), sse=False)
    assert agent.call("get_usage")["isError"] is False


def test_sessions_are_tracked(mcp_service, tenants):
    token = _token(on_business(tenants.acme))
    response = _raw(mcp_service, token, INIT)
    assert response.status_code == 200
    session = response.headers["mcp-session-id"]
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    assert (
        _raw(
            mcp_service,
            token,
            ping,
            **{"Mcp-Session-Id": "not-a-session", "MCP-Protocol-Version": "2025-11-25"},
        ).status_code
        == 404
    )
    # Another organization's token cannot use this session.
    other = _token(on_business(tenants.globex))
    hijack = _raw(
        mcp_service,
        other,
        ping,
        **{"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"},
    )
    assert hijack.status_code in (403, 404)


def test_batches_are_refused(mcp_service, tenants):
    token = _token(on_business(tenants.acme))
    batch = [{"jsonrpc": "2.0", "id": i, "method": "tools/list"} for i in range(3000)]
    response = _raw(mcp_service, token, batch)
    assert response.status_code == 400
    assert "batches are not supported" in response.json()["error"]["message"]


@pytest.mark.parametrize("token", [None, "nope", "mh_deadbeef_wrong"])
def test_bad_or_missing_token_is_401_with_resource_metadata(mcp_service, tenants, token):
    response = _raw(mcp_service, token, INIT)
    assert response.status_code == 401
    assert "resource_metadata=" in response.headers["www-authenticate"]
    metadata = httpx.get(mcp_service.replace("/mcp", "/.well-known/oauth-protected-resource/mcp"))
    assert metadata.status_code == 200 and metadata.json()["resource"].endswith("/mcp")


def test_starter_plan_has_no_mcp_404(mcp_service, tenants):
    assert _raw(mcp_service, _token(tenants.acme), INIT).status_code == 404


def test_foreign_origin_refused(mcp_service, tenants):
    token = _token(on_business(tenants.acme))
    assert _raw(mcp_service, token, INIT, Origin="https://evil.example").status_code == 403


def test_unknown_tool_is_a_protocol_error_and_bad_arguments_a_tool_error(acme_mcp):
    with pytest.raises(MCPError):
        acme_mcp.call("format_disk")
    result = acme_mcp.call("create_mailbox", quota_mb="lots")
    assert result["isError"] is True and result["structuredContent"]["code"] == "invalid"


def test_destructive_tools_need_confirmation(acme_mcp, tenants):
    verified_domain(tenants.acme, "acme.test")
    acme_mcp.call("create_mailbox", address="keep@acme.test", quota_mb=100)
    result = acme_mcp.call("delete_mailbox", address="keep@acme.test")
    assert result["isError"] is True and "confirm=true" in result["structuredContent"]["message"]
    assert Mailbox.objects.filter(address="keep@acme.test").exists()


def test_token_scopes_apply(agent_for, tenants):
    verified_domain(tenants.acme, "acme.test")
    reader = agent_for(on_business(tenants.acme), scopes=["*:read"])
    names = {t.name for t in reader.tools()}
    assert "list_mailboxes" in names and "create_mailbox" not in names
    refused = reader.call("create_mailbox", address="x@acme.test", quota_mb=100)
    assert (
        refused["isError"] is True and refused["structuredContent"]["code"] == "insufficient_scope"
    )
    assert not Mailbox.objects.filter(address="x@acme.test").exists()


def test_every_tool_call_counts_against_the_rate_limit(acme_mcp, settings):
    settings.MAILHERD_API_RATE = "3/m"
    succeeded = 0
    with pytest.raises(MCPError) as caught:
        for _ in range(4):
            assert acme_mcp.call("get_usage")["isError"] is False
            succeeded += 1
    assert "Too many requests" in str(caught.value)
    assert 1 <= succeeded <= 3  # the client's own tools/list counts too


def test_the_web_process_forwards_mcp(live_server, mcp_service, tenants, settings):
    settings.MAILHERD_MCP_URL = mcp_service.removesuffix("/mcp")
    token = _token(on_business(tenants.acme))
    response = _raw(f"{live_server.url}/mcp", token, INIT)
    assert response.status_code == 200 and response.headers["mcp-session-id"]
    assert _raw(f"{live_server.url}/mcp", None, INIT).status_code == 401
