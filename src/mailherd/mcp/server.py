"""JSON-RPC 2.0 dispatch for the MCP server (spec revision 2025-06-18), independent of HTTP."""

import json
import logging

from django.conf import settings
from pydantic import ValidationError

from mailherd.core.errors import MailherdError
from mailherd.mcp.tools import TOOLS, Context

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = "2025-06-18"
SUPPORTED_VERSIONS = ("2025-06-18", "2025-03-26", "2024-11-05")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


class RpcError(Exception):
    def __init__(self, code: int, message: str, data=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def error_response(id_, code: int, message: str, data=None) -> dict:
    error = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": id_, "error": error}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mailherd")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
        return "0"


def _available_tools(ctx: Context):
    from mailherd.operator.selectors import feature_enabled

    return [t for t in TOOLS.values() if feature_enabled(t.feature, ctx.organization)]


# -- methods -----------------------------------------------------------------------


def _initialize(ctx: Context, params: dict) -> dict:
    requested = params.get("protocolVersion")
    product = settings.MAILHERD_PRODUCT_NAME
    return {
        "protocolVersion": requested if requested in SUPPORTED_VERSIONS else PROTOCOL_VERSION,
        "capabilities": {"tools": {}},
        "serverInfo": {"name": product, "title": f"{product} mail hosting", "version": _version()},
        "instructions": (
            f"Manage the email hosting of the organization {ctx.organization.name}: domains, "
            "mailboxes, aliases and plan usage. A domain must be verified (verify_domain) before "
            "mailboxes or aliases can be created under it. Errors come back as results with "
            "isError true and a machine-readable `code`."
        ),
    }


def _ping(ctx: Context, params: dict) -> dict:
    return {}


def _tools_list(ctx: Context, params: dict) -> dict:
    return {"tools": [t.describe() for t in _available_tools(ctx)]}


def _tools_call(ctx: Context, params: dict) -> dict:
    from mailherd.operator.selectors import feature_require

    name = params.get("name")
    arguments = params.get("arguments")
    if arguments is None:
        arguments = {}
    tool = TOOLS.get(name) if isinstance(name, str) else None
    if tool is None:
        raise RpcError(INVALID_PARAMS, f"Unknown tool: {name}")
    if not isinstance(arguments, dict):
        raise RpcError(INVALID_PARAMS, "`arguments` must be an object.")
    try:
        args = tool.args.model_validate(arguments)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        message = "; ".join(f"{e['field'] or 'arguments'}: {e['message']}" for e in errors)
        raise RpcError(INVALID_PARAMS, f"Invalid arguments for {name}: {message}", errors) from None
    try:
        feature_require(tool.feature, ctx.organization)
        result = tool.handler(ctx, args)
    except MailherdError as exc:
        body = exc.as_dict()
        return {
            "content": [{"type": "text", "text": json.dumps(body, default=str)}],
            "structuredContent": body,
            "isError": True,
        }
    return {
        "content": [{"type": "text", "text": json.dumps(result, default=str)}],
        "structuredContent": result,
        "isError": False,
    }


METHODS = {
    "initialize": _initialize,
    "ping": _ping,
    "tools/list": _tools_list,
    "tools/call": _tools_call,
}


# -- dispatch ----------------------------------------------------------------------


def handle_message(ctx: Context, message) -> dict | None:
    """Answer one JSON-RPC message; None for notifications and responses (nothing to send)."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return error_response(None, INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message.")
    if "method" not in message:
        if "result" in message or "error" in message:
            return None  # a response from the client: accepted, nothing to answer
        return error_response(None, INVALID_REQUEST, "Invalid Request: no method.")
    method = message["method"]
    is_notification = "id" not in message
    id_ = message.get("id")
    if not isinstance(method, str) or (
        not is_notification and (id_ is None or isinstance(id_, bool) or not isinstance(id_, str | int))
    ):
        return error_response(None, INVALID_REQUEST, "Invalid Request: bad method or id.")
    if is_notification:
        return None  # notifications/initialized, notifications/cancelled, ...: nothing to answer
    params = message.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return error_response(id_, INVALID_PARAMS, "`params` must be an object.")
    handler = METHODS.get(method)
    if handler is None:
        return error_response(id_, METHOD_NOT_FOUND, f"Method not found: {method}")
    try:
        result = handler(ctx, params)
    except RpcError as exc:
        return error_response(id_, exc.code, exc.message, exc.data)
    except Exception:
        logger.exception("MCP method %s failed", method)
        return error_response(id_, INTERNAL_ERROR, "Internal error.")
    return {"jsonrpc": "2.0", "id": id_, "result": result}


def handle_payload(ctx: Context, payload):
    """Answer a parsed body: one message or a batch. None means 'nothing to send' (HTTP 202)."""
    if isinstance(payload, list):
        if not payload:
            return error_response(None, INVALID_REQUEST, "Invalid Request: empty batch.")
        answers = [a for a in (handle_message(ctx, m) for m in payload) if a is not None]
        return answers or None
    return handle_message(ctx, payload)
