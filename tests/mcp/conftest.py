import itertools
import json

import pytest

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.plans.models import Plan
from tests.hosting.conftest import mail_server, sim  # noqa: F401  (fixtures)

_ids = itertools.count(1)


def on_business(organization):
    organization.plan = Plan.objects.get(slug="business")
    organization.save(update_fields=["plan"])
    return organization


class Mcp:
    """A minimal MCP client over the Django test client."""

    def __init__(self, client, token):
        self.client = client
        self.token = token

    def post(self, body, *, raw=False, **headers):
        extra = {f"HTTP_{k.upper()}": v for k, v in headers.items()}
        if self.token is not None:
            extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.token}")
        data = body if raw else json.dumps(body)
        return self.client.post("/mcp", data=data, content_type="application/json", **extra)

    def rpc(self, method, params=None):
        message = {"jsonrpc": "2.0", "id": next(_ids), "method": method}
        if params is not None:
            message["params"] = params
        response = self.post(message)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["jsonrpc"] == "2.0" and body["id"] == message["id"]
        return body

    def call(self, tool, **arguments):
        """tools/call; returns the result (content, structuredContent, isError)."""
        body = self.rpc("tools/call", {"name": tool, "arguments": arguments})
        assert "result" in body, body
        result = body["result"]
        assert result["content"][0]["type"] == "text"
        assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
        return result


def _token(organization):
    return api_token_create(actor=Actor.system(), organization=organization, name="agent")[1]


@pytest.fixture
def acme_mcp(client, tenants):
    on_business(tenants.acme)
    return Mcp(client, _token(tenants.acme))


@pytest.fixture
def globex_mcp(client, tenants):
    on_business(tenants.globex)
    return Mcp(client, _token(tenants.globex))
