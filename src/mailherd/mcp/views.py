"""`/mcp` on the web process: forwarded to the MCP service (`mailherd mcp`), streams included.

The MCP service is one process so that its sessions (in memory) are found by every request; the
web process has several workers, so it passes requests through instead of answering them.
"""

import functools

import httpx
from django.conf import settings
from django.http import JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from mailherd.core.actors import client_ip

FORWARDED_REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
    "origin",
)
FORWARDED_RESPONSE_HEADERS = (
    "content-type",
    "mcp-session-id",
    "mcp-protocol-version",
    "www-authenticate",
    "retry-after",
    "cache-control",
    "allow",
)
MAX_BODY = 4 * 1024 * 1024


@functools.cache
def _client() -> httpx.Client:
    # One pooled client per process; the MCP service is ours (no netguard: not a customer URL).
    return httpx.Client(timeout=httpx.Timeout(30.0, read=None), trust_env=False)


@csrf_exempt
def endpoint(request):
    if request.method not in ("GET", "POST", "DELETE"):
        response = JsonResponse(
            {"code": "method_not_allowed", "message": "Use GET, POST or DELETE."}, status=405
        )
        response["Allow"] = "GET, POST, DELETE"
        return response
    body = request.body if request.method == "POST" else b""
    if len(body) > MAX_BODY:
        return JsonResponse(
            {"code": "request_too_large", "message": "The request is too large."}, status=413
        )
    headers = {
        name: request.headers[name] for name in FORWARDED_REQUEST_HEADERS if name in request.headers
    }
    headers["x-forwarded-for"] = client_ip(request) or ""
    upstream = settings.MAILHERD_MCP_URL.rstrip("/") + "/mcp"
    try:
        remote = _client().send(
            _client().build_request(request.method, upstream, headers=headers, content=body),
            stream=True,
        )
    except httpx.HTTPError:
        return JsonResponse(
            {
                "code": "mcp_unavailable",
                "message": "The MCP service is not running; try again shortly.",
            },
            status=503,
        )

    def stream():
        try:
            yield from remote.iter_raw()
        finally:
            remote.close()

    response = StreamingHttpResponse(stream(), status=remote.status_code)
    for name in FORWARDED_RESPONSE_HEADERS:
        if name in remote.headers:
            response[name] = remote.headers[name]
    return response
