"""Who is doing something: passed explicitly to every service that writes."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    kind: str  # "user", "token", "mcp", "operator", "system"
    user: Any = None
    token: Any = None
    ip: str | None = None
    via: str | None = None  # for "mcp": the tool being called

    @classmethod
    def for_user(cls, user, ip: str | None = None) -> "Actor":
        return cls(kind="operator" if user.is_staff else "user", user=user, ip=ip)

    @classmethod
    def for_token(cls, token, ip: str | None = None) -> "Actor":
        return cls(kind="token", token=token, ip=ip)

    @classmethod
    def system(cls) -> "Actor":
        return cls(kind="system")

    @property
    def label(self) -> str:
        if self.user is not None:
            return self.user.email
        if self.token is not None:
            if self.kind == "mcp":
                return f"MCP {self.via or 'call'} (API token {self.token.prefix})"
            return f"API token {self.token.prefix}"
        return "system"


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or what the trusted reverse proxy says it saw.

    With MAILHERD_TRUSTED_PROXY_HEADER (e.g. X-Forwarded-For) the entry
    MAILHERD_TRUSTED_PROXY_COUNT places from the right is taken: proxies append
    the address they saw, so entries further left are whatever the client sent.
    """
    import ipaddress

    from django.conf import settings

    remote = request.META.get("REMOTE_ADDR")
    header = getattr(settings, "MAILHERD_TRUSTED_PROXY_HEADER", "")
    if not header:
        return remote
    value = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
    entries = [part.strip() for part in value.split(",") if part.strip()]
    count = max(1, getattr(settings, "MAILHERD_TRUSTED_PROXY_COUNT", 1))
    if len(entries) < count:
        return remote
    candidate = entries[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
