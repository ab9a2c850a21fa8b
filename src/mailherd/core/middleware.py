"""The edge: crafted input is refused before any view or database sees it.

- A NUL byte anywhere in the path, the query string or a body (raw, percent-encoded `%00`, JSON's
  `\\u0000`) answers 400: PostgreSQL cannot store NUL, and no customer ever means to type one.
- A body over the upload limit answers the API with a JSON 413 (Django's own answer is an HTML 400).
- Under `/api/v1/` every error answer is JSON with a `code` and a `message`, whatever raised it:
  an unknown path is `not_found`, an unhandled exception `server_error`.
"""

import json
import logging
import re
from urllib.parse import unquote, unquote_plus

from django.conf import settings
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
MCP_PATH = "/mcp"
NUL = "\x00"
_JSON_NUL = re.compile(rb"\\u0000", re.IGNORECASE)
_PARSED = ("application/json", "application/x-www-form-urlencoded")
_XML_NUL = re.compile(rb"&#(?:0+|x0+);", re.IGNORECASE)

SERVER_ERROR_MESSAGE = (
    "Something went wrong on our side; it has been logged. Try again in a moment."
)
_CODES = {
    400: ("bad_request", "The request could not be read."),
    403: ("forbidden", "This request is not allowed."),
    404: ("not_found", "Nothing here: check the path against the API documentation."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("request_too_large", "The request body is too large."),
    500: ("server_error", SERVER_ERROR_MESSAGE),
}


def is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX) or request.path_info == API_PREFIX.rstrip("/")


def server_error_response() -> JsonResponse:
    return JsonResponse({"code": "server_error", "message": SERVER_ERROR_MESSAGE}, status=500)


def too_large_response() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    return JsonResponse(
        {
            "code": "request_too_large",
            "message": f"The request body is larger than the {limit // 1024} KiB this API takes.",
        },
        status=413,
    )


def _has_nul_json(value) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul_json(k) or _has_nul_json(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul_json(v) for v in value)
    return False


def _body_has_nul(request, body: bytes) -> bool:
    if b"\x00" in body:
        return True
    content_type = request.content_type or ""
    if content_type == "application/x-www-form-urlencoded":
        return b"%00" in body and NUL in unquote_plus(body.decode("latin-1"))
    if "json" in content_type or _JSON_NUL.search(body):
        if not _JSON_NUL.search(body):
            return False
        try:
            return _has_nul_json(json.loads(body))
        except (ValueError, UnicodeDecodeError):
            return False  # not JSON: the view answers that
    if "xml" in content_type:
        return bool(_XML_NUL.search(body))
    return False


class EdgeMiddleware:
    """Outermost: sees every request first and every answer last."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        refused = self._refuse(request)
        if refused is not None:
            return refused
        response = self.get_response(request)
        if is_api(request):
            response = self._json_errors(request, response)
        return response

    # -- requests ----------------------------------------------------------------------------

    def _refuse(self, request):
        api = is_api(request)
        query = request.META.get("QUERY_STRING", "")
        if NUL in request.path or NUL in request.path_info or NUL in unquote(query):
            return self._bad_input(request)
        if api and request.method == "GET" and "offset" in request.GET:
            # Lists page with cursors; an ignored offset would hand a script page 1 for ever.
            return JsonResponse(
                {
                    "code": "invalid",
                    "field": "offset",
                    "message": "Lists are paged with cursors, not offsets: pass the previous"
                    " page's next_cursor as ?cursor= (and ?limit= for the page size).",
                },
                status=422,
            )
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        content_type = request.content_type or ""
        if content_type.startswith("multipart/"):
            return self._refuse_multipart(request, api)
        parsed = content_type in _PARSED
        if not (parsed or content_type.startswith("text/") or content_type.endswith("xml")):
            return None  # binary (a gzip report, say): the view reads and checks it itself
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            if api and parsed:
                return too_large_response()
            return None  # the view decides (a webhook, say, answers its sender itself)
        if length and _body_has_nul(request, request.body):
            return self._bad_input(request)
        return None

    def _refuse_multipart(self, request, api):
        from django.core.exceptions import RequestDataTooBig

        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            if limit is None or length <= limit:
                # Read the body first: POST is then parsed from the copy, and a view that wants
                # the raw body (an API operation with a JSON body) can still have it.
                request.body  # noqa: B018
            fields = request.POST
        except RequestDataTooBig:
            return too_large_response() if api else None
        except Exception:  # noqa: BLE001 - a broken multipart body: the view answers it as before
            return None
        for key, values in fields.lists():
            if NUL in key or any(NUL in value for value in values):
                return self._bad_input(request)
        return None

    @staticmethod
    def _bad_input(request):
        message = "The request contains a NUL character, which no field accepts."
        if is_api(request):
            return JsonResponse({"code": "bad_request", "message": message}, status=400)
        if request.path == MCP_PATH or request.path.startswith(MCP_PATH + "/"):
            # An agent's client reads JSON-RPC: "Invalid Request", with no id to answer to.
            return JsonResponse(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}},
                status=400,
            )
        return HttpResponse(
            f"Bad request: {message}\n", status=400, content_type="text/plain; charset=utf-8"
        )

    # -- answers -----------------------------------------------------------------------------

    @staticmethod
    def _json_errors(request, response):
        """An HTML error page under /api/v1/ (Django's 404, 400 or 500) becomes the JSON one."""
        if response.status_code < 400 or response.streaming:
            return response
        content_type = response.get("Content-Type", "")
        if "json" in content_type:
            return response
        code, message = _CODES.get(
            response.status_code,
            ("server_error", SERVER_ERROR_MESSAGE)
            if response.status_code >= 500
            else ("error", "The request was refused."),
        )
        if response.status_code == 404:
            from mailherd.api.errors import not_found_for_path

            known = not_found_for_path(request.path)
            if known != "Nothing here in this organization.":
                message = known
        replacement = JsonResponse({"code": code, "message": message}, status=response.status_code)
        for header in ("Allow", "Retry-After"):
            if header in response:
                replacement[header] = response[header]
        return replacement
