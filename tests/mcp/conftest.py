"""The MCP service on a real port (uvicorn, official SDK), and agents on the official client."""

import threading
import time

import anyio.from_thread
import httpx2
import pytest
import uvicorn
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.plans.models import Plan
from tests.hosting.conftest import mail_server, old_imap, sim  # noqa: F401  (fixtures)


def on_business(organization):
    organization.plan = Plan.objects.get(slug="business")
    organization.save(update_fields=["plan"])
    return organization


@pytest.fixture(scope="session")
def mcp_service():
    """`mailherd mcp`'s app served from a thread; its tool calls use the test database."""
    from mailherd.mcp.server import build_app

    server = uvicorn.Server(
        uvicorn.Config(build_app(), host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the MCP service did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    thread.join(timeout=10)


class Agent:
    """An MCP client session (official SDK: ClientSession over Streamable HTTP), driven from sync
    test code through an anyio portal."""

    def __init__(self, url: str, token: str, *, sse: bool = True):
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self.portal = self._portal_cm.__enter__()
        self._stack = []
        headers = {"Authorization": f"Bearer {token}"}
        if not sse:
            headers["Accept"] = "application/json"
        http = self._enter(httpx2.AsyncClient(headers=headers, timeout=30))
        read, write = self._enter(streamable_http_client(url, http_client=http))
        self.session = self._enter(ClientSession(read, write))
        self.initialized = self.portal.call(self.session.initialize)

    def _enter(self, cm):
        wrapped = self.portal.wrap_async_context_manager(cm)
        value = wrapped.__enter__()
        self._stack.append(wrapped)
        return value

    def tools(self):
        return self.portal.call(self.session.list_tools).tools

    def call(self, tool: str, **arguments) -> dict:
        result = self.portal.call(self.session.call_tool, tool, arguments)
        return {
            "isError": result.is_error,
            "structuredContent": result.structured_content,
            "content": [{"type": c.type, "text": getattr(c, "text", None)} for c in result.content],
        }

    def close(self):
        while self._stack:
            self._stack.pop().__exit__(None, None, None)
        self._portal_cm.__exit__(None, None, None)


def _token(organization, **kwargs):
    return api_token_create(
        actor=Actor.system(), organization=organization, name="agent", **kwargs
    )[1]


@pytest.fixture
def agent_for(mcp_service):
    agents = []

    def make(organization, *, sse: bool = True, **token_kwargs):
        agent = Agent(mcp_service, _token(organization, **token_kwargs), sse=sse)
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        agent.close()


@pytest.fixture
def acme_mcp(agent_for, tenants):
    return agent_for(on_business(tenants.acme))


@pytest.fixture
def globex_mcp(agent_for, tenants):
    return agent_for(on_business(tenants.globex))
