"""The MCP server on the official `mcp` SDK: Streamable HTTP with sessions, JSON or SSE answers.

The SDK speaks the protocol (initialize and session ids, every revision it knows, SSE streams,
JSON-RPC framing); this module plugs Mailherd in: the tools of `mailherd.mcp.tools`, bearer
authentication with API tokens (and OAuth access tokens), token scopes, the per-token rate limit
for every tool call, an audit row for every call, and a confirmation for destructive tools.

It is an ASGI app (`build_app`), served by `mailherd mcp` (one process: sessions live in memory);
the web process forwards `/mcp` to it (`mailherd.mcp.views`).
"""

import json
import logging
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import mcp_types as types
from django.conf import settings
from django.db import close_old_connections
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware, get_access_token
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from pydantic import AnyHttpUrl, ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from mailherd.core.errors import MailherdError
from mailherd.mcp.oauth import issuer_url
from mailherd.mcp.tools import TOOLS, Context, Tool

logger = logging.getLogger(__name__)

INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
RATE_LIMITED = -32002
CONFIRM_FIELD = "confirm"


# --- who is calling ------------------------------------------------------------------------------


def _verify_sync(raw: str) -> AccessToken | None:
    """An API token (`mh_…`), or an agent's OAuth access token standing for its grant's API token."""
    from mailherd.api.services import api_token_authenticate
    from mailherd.mcp.oauth import api_token_for_access_token

    close_old_connections()
    expires_at = None
    try:
        token = api_token_authenticate(raw)
        if token is None:
            found = api_token_for_access_token(raw)
            if found is None:
                return None
            token, oauth_access = found
            expires_at = int(oauth_access.expires.timestamp())
        elif token.expires_at:
            expires_at = int(token.expires_at.timestamp())
    except MailherdError:  # expired
        return None
    finally:
        close_old_connections()
    return AccessToken(
        token=raw,
        client_id=f"api-token:{token.pk}",
        scopes=list(token.scopes or []),
        expires_at=expires_at,
        subject=f"org:{token.organization_id}",
        claims={"api_token_id": token.pk},
    )


class MailherdTokenVerifier:
    """Bearer tokens: API tokens (`mh_…`, the same as the REST API's) and agents' OAuth tokens."""

    async def verify_token(self, token: str) -> AccessToken | None:
        return await anyio.to_thread.run_sync(_verify_sync, token)


def _caller_token(ctx) -> AccessToken | None:
    access = get_access_token()
    if access is None and ctx is not None and getattr(ctx, "request", None) is not None:
        user = ctx.request.scope.get("user")
        access = getattr(user, "access_token", None)
    return access


def _load_caller(access: AccessToken | None, *, via: str | None):
    """(api token, Context) for the caller, read fresh (a revoked token stops at once)."""
    from mailherd.api.models import ApiToken
    from mailherd.core.actors import Actor

    if access is None or not access.claims:
        raise MCPError(INVALID_REQUEST, "Not authenticated.")
    token = (
        ApiToken.objects.select_related("organization__plan")
        .filter(pk=access.claims.get("api_token_id"), revoked_at__isnull=True)
        .first()
    )
    if token is None or token.is_expired:
        raise MCPError(INVALID_REQUEST, "This token was revoked or has expired.")
    actor = Actor(kind="mcp", token=token, via=via)
    return token, Context(organization=token.organization, actor=actor)


def _throttle(token) -> None:
    """Every tool call counts against the token's API rate limit (MAILHERD_API_RATE)."""
    from types import SimpleNamespace

    from mailherd.api.v1 import TokenRateThrottle

    throttle = TokenRateThrottle()
    request = SimpleNamespace(auth=token, META={}, headers={})
    if not throttle.allow_request(request):
        wait = int(throttle.wait() or 1)
        raise MCPError(RATE_LIMITED, f"Too many requests for this token; retry in {wait} s.")


# --- tools ---------------------------------------------------------------------------------------


def tool_scope(tool: Tool) -> str:
    return f"{tool.resource}:{'read' if tool.read_only else 'write'}"


def _input_schema(tool: Tool) -> dict:
    schema = tool.input_schema()
    if tool.destructive and CONFIRM_FIELD not in schema.get("properties", {}):
        schema.setdefault("properties", {})[CONFIRM_FIELD] = {
            "type": "boolean",
            "const": True,
            "description": "Must be true: the user asked for this and knows it cannot be undone.",
        }
        schema.setdefault("required", []).append(CONFIRM_FIELD)
    return schema


def _sdk_tool(tool: Tool) -> types.Tool:
    return types.Tool(
        name=tool.name,
        description=tool.description,
        input_schema=_input_schema(tool),
        annotations=types.ToolAnnotations(
            title=tool.name.replace("_", " ").capitalize(),
            read_only_hint=tool.read_only,
            destructive_hint=tool.destructive,
            idempotent_hint=tool.read_only or tool.idempotent,
            open_world_hint=False,
        ),
    )


def _visible_tools(ctx: Context, token) -> list[Tool]:
    from mailherd.api.scopes import scopes_allow
    from mailherd.operator.maintenance import is_hosting_tool
    from mailherd.operator.selectors import feature_enabled

    granted = list(token.scopes or [])
    hosting = feature_enabled("email_hosting")
    return [
        t
        for t in TOOLS.values()
        if feature_enabled(t.feature, ctx.organization)
        and (hosting or not is_hosting_tool(t))
        and scopes_allow(granted, tool_scope(t))
    ]


def _result(body: dict, *, error: bool) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=json.dumps(body, default=str))],
        structured_content=json.loads(json.dumps(body, default=str)),
        is_error=error,
    )


def _call_sync(
    access: AccessToken | None, name: str, arguments: dict | None
) -> types.CallToolResult:
    from mailherd.api.scopes import require_scope
    from mailherd.core.audit import audit_record
    from mailherd.operator.selectors import feature_require

    close_old_connections()
    try:
        token, ctx = _load_caller(access, via=name)
        _throttle(token)
        tool = TOOLS.get(name)
        if tool is None:
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {name}")
        arguments = dict(arguments or {})
        ok = False
        try:
            require_scope(token, tool_scope(tool))
            from mailherd.operator.maintenance import is_hosting_tool

            if is_hosting_tool(tool):
                feature_require("email_hosting")  # 503 maintenance while the operator has it off
            feature_require(tool.feature, ctx.organization)
            needs_confirm = tool.destructive and CONFIRM_FIELD not in tool.args.model_fields
            if needs_confirm and arguments.pop(CONFIRM_FIELD, None) is not True:
                raise MailherdError(
                    f"{name} cannot be undone: call it again with confirm=true once the user "
                    "has confirmed.",
                    field=CONFIRM_FIELD,
                )
            try:
                args = tool.args.model_validate(arguments)
            except ValidationError as exc:
                problems = [
                    f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                    for e in exc.errors(
                        include_url=False, include_context=False, include_input=False
                    )
                ]
                return _result(
                    {
                        "code": "invalid",
                        "message": f"Invalid arguments for {name}: {'; '.join(problems)}",
                    },
                    error=True,
                )
            body = tool.handler(ctx, args)
            ok = True
            return _result(body, error=False)
        except MailherdError as exc:
            return _result(exc.as_dict(), error=True)
        finally:
            audit_record(
                actor=ctx.actor,
                action="mcp.call",
                organization=ctx.organization,
                data={"tool": name, "ok": ok},
            )
    finally:
        close_old_connections()


def _list_sync(access: AccessToken | None) -> types.ListToolsResult:
    close_old_connections()
    try:
        token, ctx = _load_caller(access, via="tools/list")
        _throttle(token)
        return types.ListToolsResult(tools=[_sdk_tool(t) for t in _visible_tools(ctx, token)])
    finally:
        close_old_connections()


async def _on_list_tools(ctx, params) -> types.ListToolsResult:
    access = _caller_token(ctx)
    return await anyio.to_thread.run_sync(_list_sync, access)


async def _on_call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
    access = _caller_token(ctx)
    return await anyio.to_thread.run_sync(_call_sync, access, params.name, params.arguments)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mailherd")
    except PackageNotFoundError:  # pragma: no cover
        return "0"


def build_server() -> Server:
    product = settings.MAILHERD_PRODUCT_NAME
    return Server(
        product.lower().replace(" ", "-") or "mail",
        version=_version(),
        title=f"{product} mail hosting",
        instructions=(
            "Manage the organization's email hosting: domains, DNS, mailboxes, aliases and plan "
            "usage. A domain must be verified (verify_domain) before mailboxes or aliases can be "
            "created under it. Errors come back as results with isError true and a "
            "machine-readable `code`. Destructive tools need confirm=true."
        ),
        on_list_tools=_on_list_tools,
        on_call_tool=_on_call_tool,
    )


# --- HTTP ----------------------------------------------------------------------------------------


def _has_sse(headers: dict) -> bool:
    accept = headers.get(b"accept", b"").decode("latin-1").lower()
    return "text/event-stream" in accept or "*/*" in accept or "text/*" in accept


class _Router:
    """One endpoint, two session managers: SSE answers for clients that accept them, JSON else.

    A session stays with the manager that created it (its id says which).
    """

    def __init__(self, sse: StreamableHTTPSessionManager, plain: StreamableHTTPSessionManager):
        self.sse, self.plain = sse, plain

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        session_id = headers.get(MCP_SESSION_ID_HEADER.lower().encode(), b"").decode("latin-1")
        if session_id:
            manager = self.plain if session_id in self.plain._server_instances else self.sse
        else:
            manager = self.sse if _has_sse(headers) else self.plain
        await manager.handle_request(scope, receive, send)


class _Guard:
    """Before the SDK: refuse JSON-RPC batches and plans without MCP (answer 404)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body.lstrip()[:1] == b"[":
            response = JSONResponse(
                {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {
                        "code": INVALID_REQUEST,
                        "message": "JSON-RPC batches are not supported; send one message per request.",
                    },
                },
                status_code=400,
            )
            await response(scope, receive, send)
            return
        access = get_access_token()
        if access is not None and not await anyio.to_thread.run_sync(_mcp_enabled, access):
            await JSONResponse({"code": "not_found", "message": "Not found."}, status_code=404)(
                scope, receive, send
            )
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _mcp_enabled(access: AccessToken) -> bool:
    from mailherd.api.models import ApiToken
    from mailherd.operator.selectors import feature_enabled

    close_old_connections()
    try:
        token = (
            ApiToken.objects.select_related("organization__plan")
            .filter(pk=(access.claims or {}).get("api_token_id"))
            .first()
        )
        return token is not None and feature_enabled("mcp", token.organization)
    finally:
        close_old_connections()


def build_app(*, path: str = "/mcp") -> Starlette:
    server = build_server()
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)  # see _origin_guard
    sse = StreamableHTTPSessionManager(app=server, json_response=False, security_settings=security)
    plain = StreamableHTTPSessionManager(app=server, json_response=True, security_settings=security)
    resource_url = AnyHttpUrl(f"{settings.SITE_URL}{path}")
    issuer = AnyHttpUrl(issuer_url())
    endpoint = RequireAuthMiddleware(
        _Guard(_Router(sse, plain)), [], build_resource_metadata_url(resource_url)
    )

    @asynccontextmanager
    async def lifespan(app):
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(sse.run())
            await stack.enter_async_context(plain.run())
            yield

    routes = [Route(path, endpoint=endpoint, methods=["GET", "POST", "DELETE"])]
    routes += create_protected_resource_routes(
        resource_url=resource_url,
        authorization_servers=[issuer],
        resource_name=f"{settings.MAILHERD_PRODUCT_NAME} MCP",
    )
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(_OriginGuard),
            Middleware(
                AuthenticationMiddleware, backend=BearerAuthBackend(MailherdTokenVerifier())
            ),
            Middleware(AuthContextMiddleware),
        ],
        lifespan=lifespan,
    )
    return app


class _OriginGuard:
    """Refuse browsers on foreign sites (DNS rebinding); agents send no Origin."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            origin = dict(scope.get("headers") or []).get(b"origin")
            if origin is not None and not _origin_allowed(origin.decode("latin-1")):
                await JSONResponse(
                    {
                        "jsonrpc": "2.0",
                        "id": None,
                        "error": {"code": INVALID_REQUEST, "message": "Origin not allowed."},
                    },
                    status_code=403,
                )(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _origin_allowed(origin: str) -> bool:
    from django.http.request import split_domain_port, validate_host

    if origin == "null":
        return False
    host = origin.split("://", 1)[-1].split("/", 1)[0]
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)
