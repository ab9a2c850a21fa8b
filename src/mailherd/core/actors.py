"""Who is doing something: passed explicitly to every service that writes."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    kind: str  # "user", "token", "operator", "system"
    user: Any = None
    token: Any = None
    ip: str | None = None

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
            return f"API token {self.token.prefix}"
        return "system"


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")
