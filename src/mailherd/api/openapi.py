"""Every operation documents every error it can answer, with the shared error body; links from
each create to the operations on what it created (for stateful clients and fuzzers)."""

import re

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "Machine-readable; never changes."},
        "message": {"type": "string", "description": "In plain words, for a person."},
        "field": {"type": "string", "description": "The input field the error is about."},
    },
    "required": ["code", "message"],
    "additionalProperties": True,
}

_ALWAYS = {
    "400": "`bad_request`: the request cannot be read, or holds a NUL character (path, query"
    " or body).",
    "401": "`unauthorized`: no valid API token (`Authorization: Bearer <token>`).",
    "403": "`insufficient_scope` (the token's scopes do not cover this), `permission_denied`"
    " (the plan does not include it) or `organization_suspended`.",
    "404": "`not_found`: no such object in this organization, or the feature is switched off.",
    "422": "`invalid` (the errors list each field) or another validation code.",
    "429": "`rate_limited`: too many requests for this token; see `Retry-After`.",
    "500": "`server_error`: something broke on our side; retrying later is safe.",
}
_WRITES = {
    "400": "`bad_request`: the body is not JSON or holds a NUL character, or an"
    " `Idempotency-Key` is malformed.",
    "409": "A conflict: `domain_exists`, `domain_taken`, `address_in_use`, `plan_limit_exceeded`,"
    " `domain_not_verified`, `idempotency_key_reused`, …",
    "413": "`request_too_large`: the body is too large.",
}


def document_errors(schema: dict) -> dict:
    """Add the shared error answers to every operation (keeping any it documents itself)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Error", ERROR_SCHEMA)
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            # ninja keys its own answers by int; one key per status, as strings.
            responses = {str(k): v for k, v in operation.get("responses", {}).items()}
            operation["responses"] = responses
            wanted = dict(_ALWAYS)
            if method != "get":
                wanted.update(_WRITES)
            wanted["414"] = "`uri_too_long`: the URL is too long."
            for status, description in wanted.items():
                entry = responses.get(status)
                if entry is None:
                    responses[status] = {
                        "description": description,
                        "content": {"application/json": {"schema": ref}},
                    }
                else:
                    entry["description"] = description
            # The web server itself may answer 414 before Mailherd sees the request, in HTML.
            responses["414"]["content"]["text/html"] = {"schema": {"type": "string"}}
            responses["429"]["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer"},
                }
            }
    add_links(schema)
    return schema


# Path parameter → the field of the created object that fills it.
_LINK_FIELDS = {"name": "name", "address": "address"}


def add_links(schema: dict) -> None:
    """POST /things → 201: link to every /things/{key}… operation, the key taken from the body."""
    paths = schema.get("paths", {})
    for path, item in paths.items():
        created = item.get("post", {}).get("responses", {}).get("201")
        if created is None or path.endswith("}"):
            continue
        for other_path, other_item in paths.items():
            match = re.match(re.escape(path) + r"/\{(\w+)\}(/[^{}]*)?$", other_path)
            if not match:
                continue
            param = match.group(1)
            field = _LINK_FIELDS.get(param, "id")
            for method, operation in other_item.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                created.setdefault("links", {})[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {param: f"$response.body#/{field}"},
                }
