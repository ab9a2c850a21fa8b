"""What an API token may do: scopes `<resource>:read` / `<resource>:write`, or `*:` for every resource.

`write` includes `read` of the same resource. A request needs `<resource>:read` for GET and
`<resource>:write` for anything else, where the resource is the first segment of its path under
/api/v1/ (`/domains/{name}/verify` → `domains`), so new endpoints are covered without a list to keep.
MCP tools declare their resource and whether they only read, and are checked the same way.
"""

from mailherd.core.errors import MailherdError, ValidationFailed

FULL_ACCESS = ["*:write"]
READ_ONLY = ["*:read"]
READ_METHODS = ("GET", "HEAD", "OPTIONS")
# Paths every valid token may use, whatever its scopes (who am I?).
UNSCOPED = {"me", "openapi.json", "docs"}


class InsufficientScope(MailherdError):
    code = "insufficient_scope"
    http_status = 403

    def __init__(self, *, needed: str, granted: list[str]):
        super().__init__(
            f"This token's scopes ({', '.join(granted) or 'none'}) do not allow this; it needs "
            f"{needed}. Create a token with that scope in the portal.",
            needed=needed,
        )


def api_resources() -> list[str]:
    """The resources of the REST API (first path segments), for choosing scopes."""
    from mailherd.api.v1 import api

    resources = set()
    for router_prefix, router in api._routers:
        for path in router.path_operations:
            segment = f"{router_prefix}/{path}".strip("/").split("/", 1)[0]
            if segment and not segment.startswith("{") and segment not in UNSCOPED:
                resources.add(segment.replace("-", "_"))
    return sorted(resources)


def needed_scope(method: str, path: str) -> str | None:
    """The scope a request needs, or None for the unscoped paths."""
    rest = path.split("/api/v1/", 1)[-1].strip("/")
    resource = rest.split("/", 1)[0].replace("-", "_")
    if not resource or resource in UNSCOPED:
        return None
    return f"{resource}:{'read' if method.upper() in READ_METHODS else 'write'}"


def scopes_allow(granted: list[str], needed: str) -> bool:
    resource, _, action = needed.partition(":")
    for scope in granted or []:
        have_resource, _, have_action = scope.partition(":")
        if have_resource in ("*", resource) and have_action in (action, "write"):
            return True
    return False


def require_scope(token, needed: str | None) -> None:
    if needed is None:
        return
    granted = list(token.scopes or [])
    if not scopes_allow(granted, needed):
        raise InsufficientScope(needed=needed, granted=granted)


def clean_scopes(scopes) -> list[str]:
    """Check a requested list of scopes; refuse unknown ones in words."""
    if scopes is None:
        return list(FULL_ACCESS)
    if isinstance(scopes, str):
        scopes = scopes.replace(",", " ").split()
    known = set(api_resources()) | {"*"}
    cleaned: list[str] = []
    for scope in scopes:
        scope = str(scope).strip().lower()
        resource, _, action = scope.partition(":")
        if action not in ("read", "write") or resource not in known:
            raise ValidationFailed(
                f"'{scope}' is not a scope. Use <resource>:read or <resource>:write with a resource "
                f"of {', '.join(sorted(known - {'*'}))}, or *:read / *:write for all.",
                field="scopes",
            )
        if scope not in cleaned:
            cleaned.append(scope)
    if not cleaned:
        raise ValidationFailed("Give the token at least one scope.", field="scopes")
    return cleaned


def describe(scopes: list[str]) -> str:
    """In words, for the portal."""
    if scopes == FULL_ACCESS:
        return "Full access"
    if scopes == READ_ONLY:
        return "Read only"
    return ", ".join(scopes)
