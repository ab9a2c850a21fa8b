"""AI agents connect by URL: OAuth 2.1 discovery, dynamic client registration, the member's
approval in the portal, and the official MCP client's own OAuth flow end to end."""

import re
import threading
import time
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.from_thread
import httpx
import httpx2
import pytest
import uvicorn
from django.test import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

from mailherd.api.models import ApiToken
from mailherd.core.models import AuditEvent
from mailherd.mcp.models import AgentGrant
from tests.conftest import PASSWORD
from tests.mcp.conftest import on_business

pytestmark = pytest.mark.django_db(transaction=True)

REDIRECT = "http://127.0.0.1:33418/callback"


def _register(client, **metadata):
    body = {
        "client_name": "Desk Agent",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        **metadata,
    }
    return client.post("/o/register/", body, content_type="application/json")


def test_discovery_documents_point_agents_at_the_issuer(client, settings):
    resource = client.get("/.well-known/oauth-protected-resource/mcp").json()
    assert resource["resource"] == f"{settings.SITE_URL}/mcp"
    assert resource["authorization_servers"] == [f"{settings.SITE_URL}/o"]
    assert resource["scopes_supported"] == ["mcp"]
    assert "mailherd" not in resource.get("resource_name", "").lower() or (
        settings.MAILHERD_PRODUCT_NAME.lower() == "mailherd"
    )
    for path in (
        "/.well-known/oauth-authorization-server/o",
        "/o/.well-known/oauth-authorization-server",
    ):
        server = client.get(path).json()
        assert server["issuer"].endswith("/o")
        assert server["registration_endpoint"].endswith("/o/register/")
        assert server["authorization_endpoint"].endswith("/o/authorize/")
        assert server["code_challenge_methods_supported"] == ["S256"]
        assert "none" in server["token_endpoint_auth_methods_supported"]
        assert server["response_types_supported"] == ["code"]


def test_an_agent_registers_itself_as_a_public_client(client):
    response = _register(client)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["client_id"] and "client_secret" not in body
    assert body["token_endpoint_auth_method"] == "none"


@pytest.mark.parametrize(
    "uri", ["http://evil.example/callback", "javascript:alert(1)", "https://x.example/cb#frag"]
)
def test_registration_refuses_unsafe_redirects(client, uri):
    response = _register(client, redirect_uris=[uri])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"


def test_registrations_are_limited_per_address(client, settings):
    settings.MAILHERD_AGENT_REGISTRATIONS_PER_HOUR = 3
    statuses = [_register(client, client_name=f"a{i}").status_code for i in range(5)]
    assert statuses == [201, 201, 201, 429, 429]


def _authorize_url(client_id, **extra):
    import base64
    import hashlib
    import secrets

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "mcp",
        "state": "s1",
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
        **extra,
    }
    from urllib.parse import urlencode

    return f"/o/authorize/?{urlencode(query)}", verifier


def _approve(browser, url, organization, access="full"):
    page = browser.get(url)
    assert page.status_code == 200, page.content
    form = page.context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update({"allow": "on", "organization": str(organization.pk), "access": access})
    return browser.post("/o/authorize/", data)


def test_a_member_approves_an_agent_for_one_organization(client, tenants):
    on_business(tenants.acme)
    client_id = _register(client).json()["client_id"]
    browser = Client()
    browser.login(email=tenants.alice.email, password=PASSWORD)
    url, verifier = _authorize_url(client_id)
    page = browser.get(url)
    assert b"Desk Agent" in page.content and b"Acme" in page.content
    assert b"Globex" not in page.content  # alice is not in Globex
    # a tampered organization id is refused
    data = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    data.update({"allow": "on", "organization": str(tenants.globex.pk), "access": "full"})
    assert browser.post("/o/authorize/", data).status_code == 200  # the form again, with an error
    assert not AgentGrant.objects.exists()

    response = _approve(browser, url, tenants.acme, access="read")
    assert response.status_code == 302
    code = parse_qs(urlsplit(response["Location"]).query)["code"][0]
    token = client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.content
    grant = AgentGrant.objects.get()
    assert grant.organization == tenants.acme and grant.api_token.scopes == ["*:read"]
    assert grant.api_token.name == "AI agent: Desk Agent"
    assert AuditEvent.objects.filter(action="agent.approve", organization=tenants.acme).exists()
    # the code is used up
    again = client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    assert again.status_code == 400


def test_without_pkce_no_code_is_given(client, tenants):
    on_business(tenants.acme)
    client_id = _register(client).json()["client_id"]
    browser = Client()
    browser.login(email=tenants.alice.email, password=PASSWORD)
    url, _ = _authorize_url(client_id)
    url = re.sub(r"&code_challenge[^&]*", "", url)
    response = browser.get(url)
    assert response.status_code != 200 or b"Approve" not in response.content


def test_a_member_without_an_eligible_organization_is_told_why(client, tenants):
    client_id = _register(client).json()["client_id"]  # acme is on Starter: no MCP
    browser = Client()
    browser.login(email=tenants.alice.email, password=PASSWORD)
    url, _ = _authorize_url(client_id)
    response = browser.get(url)
    assert response.status_code == 403
    assert b"plan must include AI agent access" in response.content


def test_a_token_for_another_resource_is_not_issued(client, tenants):
    on_business(tenants.acme)
    client_id = _register(client).json()["client_id"]
    browser = Client()
    browser.login(email=tenants.alice.email, password=PASSWORD)
    url, _ = _authorize_url(client_id, resource="https://elsewhere.example/api")
    response = _approve(browser, url, tenants.acme)
    assert response.status_code != 302 or "code=" not in response.get("Location", "")
    assert not AgentGrant.objects.exists()


# --- the official MCP client's OAuth flow, end to end ----------------------------------------


@pytest.fixture
def site(live_server, settings):
    """The web process (live server) forwarding /mcp to an MCP service built for its URL."""
    from mailherd.mcp.server import build_app

    settings.SITE_URL = live_server.url
    server = uvicorn.Server(
        uvicorn.Config(build_app(), host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    settings.MAILHERD_MCP_URL = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    yield live_server.url
    server.should_exit = True
    thread.join(timeout=10)


class _Memory:
    def __init__(self):
        self.tokens = self.client = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, info):
        self.client = info


def _run_agent(url, browser, organization, storage, *, call=None):
    """Connect with the SDK's OAuthClientProvider; `browser` approves in the portal."""
    redirect = {}

    def approve_in_portal(authorization_url):
        parts = urlsplit(authorization_url)
        response = _approve(browser, f"{parts.path}?{parts.query}", organization)
        assert response.status_code == 302, response.content
        redirect.update(parse_qs(urlsplit(response["Location"]).query))

    async def redirect_handler(authorization_url):
        await anyio.to_thread.run_sync(approve_in_portal, authorization_url)

    async def callback_handler():
        return AuthorizationCodeResult(
            code=redirect["code"][0], state=(redirect.get("state") or [None])[0]
        )

    async def session():
        auth = OAuthClientProvider(
            server_url=f"{url}/mcp",
            client_metadata=OAuthClientMetadata(
                client_name="Desk Agent",
                redirect_uris=[REDIRECT],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",
            ),
            storage=storage,
            redirect_handler=redirect_handler,
            callback_handler=callback_handler,
        )
        async with (
            httpx2.AsyncClient(auth=auth, timeout=30) as http,
            streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
            ClientSession(read, write) as mcp,
        ):
            await mcp.initialize()
            tools = (await mcp.list_tools()).tools
            result = await mcp.call_tool(*call) if call else None
            return tools, result

    with anyio.from_thread.start_blocking_portal() as portal:
        return portal.call(session)


def test_the_official_client_connects_by_url_and_the_portal_revokes_it(site, tenants):
    on_business(tenants.acme)
    browser = Client()
    browser.login(email=tenants.alice.email, password=PASSWORD)
    storage = _Memory()
    tools, usage = _run_agent(site, browser, tenants.acme, storage, call=("get_usage", {}))
    assert any(t.name == "create_mailbox" for t in tools)
    assert not usage.is_error and usage.structured_content is not None
    grant = AgentGrant.objects.get()
    assert grant.organization == tenants.acme
    assert AuditEvent.objects.filter(action="mcp.call", organization=tenants.acme).exists()
    # the stored token works again without asking (no second approval)
    _tools, again = _run_agent(site, None, tenants.acme, storage, call=("get_usage", {}))
    assert not again.is_error
    # the owner revokes it on the API tokens page: the agent is out at once, refresh included
    token = ApiToken.objects.get(pk=grant.api_token_id)
    browser.post(f"/o/{tenants.acme.slug}/api-tokens/{token.pk}/revoke/")
    raw = storage.tokens.access_token
    denied = httpx.post(
        f"{site}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Authorization": f"Bearer {raw}", "Accept": "application/json, text/event-stream"},
    )
    assert denied.status_code == 401
    refreshed = httpx.post(
        f"{site}/o/token/",
        data={
            "grant_type": "refresh_token",
            "refresh_token": storage.tokens.refresh_token,
            "client_id": storage.client.client_id,
        },
    )
    assert refreshed.status_code == 400


def test_an_agent_token_sees_only_its_organization(site, tenants):
    from tests.hosting.conftest import verified_domain

    on_business(tenants.acme)
    on_business(tenants.globex)
    verified_domain(tenants.globex, "globex.test")
    browser = Client()
    browser.login(email=tenants.alice.email, password=PASSWORD)
    _tools, domains = _run_agent(site, browser, tenants.acme, _Memory(), call=("list_domains", {}))
    assert "globex.test" not in str(domains.structured_content)


@pytest.mark.e2e
@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_the_consent_page_in_a_browser(live_server, tenants, page, phone_page, device):
    from tests.e2e.conftest import screenshot

    tab = page if device == "desktop" else phone_page
    on_business(tenants.acme)
    client_id = _register(Client()).json()["client_id"]
    tab.route(
        f"{REDIRECT}**", lambda route: route.fulfill(body="connected", content_type="text/plain")
    )
    url, _ = _authorize_url(client_id)
    tab.goto(live_server.url + url)  # not signed in yet: the sign-in page first
    tab.fill("input[name=login]", tenants.alice.email)
    tab.fill("input[name=password]", PASSWORD)
    tab.locator(".auth-card button[type=submit]").click()
    tab.wait_for_url(re.compile(r".*/o/authorize/.*"))
    assert tab.get_by_role("heading", name=re.compile("Desk Agent")).is_visible()
    screenshot(tab, f"mcp-agent-consent-{device}")
    if device == "phone":
        assert tab.evaluate("document.documentElement.scrollWidth") <= 391
    tab.get_by_label("Read only").check()
    tab.get_by_role("button", name="Approve").click()
    tab.wait_for_url(re.compile(r"^http://127\.0\.0\.1:33418/callback\?code=.*"))
    assert AgentGrant.objects.get().scopes == ["*:read"]
