"""The MCP endpoint: Streamable HTTP transport, JSON responses only (no SSE), bearer tokens."""

import json

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.http.request import split_domain_port, validate_host
from django.views.decorators.csrf import csrf_exempt

from mailherd.api.services import api_token_authenticate
from mailherd.core.actors import Actor, client_ip
from mailherd.mcp.server import (
    INVALID_REQUEST,
    PARSE_ERROR,
    SUPPORTED_VERSIONS,
    error_response,
    handle_payload,
)
from mailherd.mcp.tools import Context

UNAUTHORIZED = -32001  # server-defined JSON-RPC error code (the HTTP status says 401)


def _rpc_error(status: int, code: int, message: str, **headers) -> JsonResponse:
    response = JsonResponse(error_response(None, code, message), status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _bearer(request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _origin_allowed(request) -> bool:
    """Refuse browsers on foreign sites (DNS rebinding); agents send no Origin."""
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None
    host = origin.split("://", 1)[-1].split("/", 1)[0]
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _throttled(request, api_token) -> JsonResponse | None:
    """The REST API's per-token budget, shared: an agent cannot double it by switching protocol."""
    from mailherd.api.v1 import TokenRateThrottle

    throttle = TokenRateThrottle()
    request.auth = api_token
    if throttle.allow_request(request):
        return None
    wait = int(throttle.wait() or 1)
    return _rpc_error(
        429, -32002, f"Too many requests for this token; retry in {wait} s.", Retry_After=str(wait)
    )


@csrf_exempt
def endpoint(request):
    if request.method != "POST":
        return _rpc_error(405, INVALID_REQUEST, "Use POST (no SSE stream is offered).", Allow="POST")
    if not _origin_allowed(request):
        return _rpc_error(403, INVALID_REQUEST, "Origin not allowed.")

    api_token = api_token_authenticate(_bearer(request) or "")
    if api_token is None:
        return _rpc_error(
            401,
            UNAUTHORIZED,
            "Send a valid API token as 'Authorization: Bearer <token>'.",
            WWW_Authenticate='Bearer realm="mcp"',
        )
    organization = api_token.organization

    from mailherd.operator.selectors import feature_enabled

    if not feature_enabled("mcp", organization):
        raise Http404("No such page")  # answer exactly like a route that does not exist

    version = request.headers.get("MCP-Protocol-Version")
    if version is not None and version not in SUPPORTED_VERSIONS:
        return _rpc_error(400, INVALID_REQUEST, f"Unsupported MCP-Protocol-Version: {version}")

    limited = _throttled(request, api_token)
    if limited is not None:
        return limited

    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _rpc_error(400, PARSE_ERROR, "Parse error: the body is not valid JSON.")

    ctx = Context(organization=organization, actor=Actor.for_token(api_token, ip=client_ip(request)))
    answer = handle_payload(ctx, payload)
    if answer is None:
        return HttpResponse(status=202)
    return JsonResponse(answer, safe=False)
