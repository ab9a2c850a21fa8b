"""Outgoing requests to customer-supplied URLs: only to public internet addresses.

A customer can type any URL (a webhook endpoint, a rule's webhook action, ...). Without a guard, Mailherd
would happily POST to 127.0.0.1:6379, the cloud metadata service at 169.254.169.254 or a box on the
operator's private network. Two layers:

- `validate_url(url)` when the URL is saved: scheme, a real host name (no "2130706433" or "0177.1"
  spellings of an address), and, when the name resolves now, no refused address. Plain-words errors.
- `guarded_client()` when sending: an httpx client whose connections resolve the host once, check every
  resolved address and connect to the checked address itself, so a DNS answer that changes between the
  check and the connection (DNS rebinding) cannot slip through. Every redirect hop goes through the
  same check, and proxies from the environment are ignored.

The operator can allow private targets (`MAILHERD_ALLOW_PRIVATE_TARGETS=1`, e.g. for a test receiver on
the same machine) or list allowed networks and host names (`MAILHERD_ALLOWED_TARGETS`, comma separated:
`10.1.2.0/24,hooks.internal.example`).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings

from mailherd.core.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# NAT64 (RFC 6052) carries an IPv4 address in the last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetNotAllowed(ValidationFailed):
    """A customer-supplied URL points somewhere Mailherd does not send requests to."""

    code = "target_not_allowed"

    def __init__(self, message: str, *, field: str = "url"):
        super().__init__(message, field=field)


# --- addresses ---------------------------------------------------------------------------------


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4, Teredo)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    # IPv4-compatible (::a.b.c.d, deprecated) but not :: or ::1 themselves.
    if int(ip) >> 32 == 0 and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip))
    return None


def address_problem(ip: IPAddress) -> str | None:
    """Why Mailherd does not send to this address (in words), or None when it may."""
    inner = _embedded_ipv4(ip)
    if inner is not None:
        problem = address_problem(inner)
        return f"{problem} (written as IPv6)" if problem else None
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address of this server"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "an address on a private network"
    if not ip.is_global:
        return "not a public internet address"
    return None


def _allowed_networks() -> tuple[list, set[str]]:
    networks, names = [], set()
    for entry in getattr(settings, "MAILHERD_ALLOWED_TARGETS", []) or []:
        entry = entry.strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.rstrip("."))
    return networks, names


def private_targets_allowed() -> bool:
    return bool(getattr(settings, "MAILHERD_ALLOW_PRIVATE_TARGETS", False))


def address_allowed(ip: IPAddress, *, host: str = "") -> bool:
    if private_targets_allowed() or address_problem(ip) is None:
        return True
    networks, names = _allowed_networks()
    if host and host.lower().rstrip(".") in names:
        return True
    return any(ip.version == network.version and ip in network for network in networks)


def check_address(ip: IPAddress, *, host: str) -> None:
    """Raise TargetNotAllowed when `host`'s address `ip` is refused."""
    if address_allowed(ip, host=host):
        return
    problem = address_problem(ip)
    if _is_ip_literal(host) and ipaddress.ip_address(host.strip("[]")) == ip:
        message = f"{ip} is {problem}; requests only go to public internet addresses."
    else:
        message = (
            f"{host} resolves to {ip}, {problem}; requests only go to public internet addresses."
        )
    raise TargetNotAllowed(message)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


# --- host names and URLs -----------------------------------------------------------------------


def _looks_numeric(host: str) -> bool:
    """True for hosts that the C resolver reads as an IPv4 address in another spelling.

    inet_aton accepts "2130706433", "0x7f.1", "0177.0.0.1" and "127.1" as 127.0.0.1; a public service
    has no reason to be addressed that way, so those spellings are refused outright.
    """
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def check_host(host: str, *, resolve: bool = True, port: int = 443) -> None:
    """Check a host name or address literal; with `resolve`, also the addresses it has now."""
    host = (host or "").strip()
    if not host:
        raise TargetNotAllowed("The URL has no host name.")
    bare = host.strip("[]")
    if _is_ip_literal(bare):
        check_address(ipaddress.ip_address(bare), host=bare)
        return
    if _looks_numeric(bare):
        raise TargetNotAllowed(
            f"'{host}' is an IP address in an unusual spelling; write a host name, or the address "
            "as four decimal numbers (203.0.113.10)."
        )
    name = bare.lower().rstrip(".")
    is_localhost = name in ("localhost", "localhost.localdomain") or name.endswith(".localhost")
    if is_localhost and not address_allowed(ipaddress.ip_address("127.0.0.1"), host=bare):
        raise TargetNotAllowed(
            f"{host} is this server itself; requests only go to public internet addresses."
        )
    if resolve:
        for ip in resolve_host(bare, port):
            check_address(ip, host=bare)


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """The addresses of `host` (empty when it does not resolve right now)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    seen: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if ip not in seen:
            seen.append(ip)
    return seen


def validate_url(
    url: str, *, schemes: Iterable[str] = ("https",), resolve: bool = True, field: str = "url"
) -> str:
    """Check a customer-supplied URL before saving it; returns it stripped.

    `schemes` lists what the feature accepts; plain http is accepted as well when the operator allows
    private targets (a receiver on the same machine rarely has a certificate).
    """
    url = (url or "").strip()
    schemes = tuple(schemes)
    try:
        if not url:
            raise TargetNotAllowed("Enter a URL, e.g. https://hooks.example.com/mailherd.")
        if len(url) > 2000:
            raise TargetNotAllowed("A URL can have at most 2000 characters.")
        if any(ch.isspace() or ord(ch) < 32 for ch in url):
            raise TargetNotAllowed("A URL cannot contain spaces or control characters.")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        allowed = schemes + (
            ("http",) if private_targets_allowed() and "http" not in schemes else ()
        )
        if scheme not in allowed:
            wanted = " or ".join(f"{s}://" for s in allowed)
            raise TargetNotAllowed(f"The URL must start with {wanted}.")
        if parts.username or parts.password:
            raise TargetNotAllowed(
                "Put no user name or password in the URL; each request is signed instead."
            )
        try:
            port = parts.port
        except ValueError:
            raise TargetNotAllowed("The URL's port must be a number from 1 to 65535.")
        if port == 0:
            raise TargetNotAllowed("The URL's port must be a number from 1 to 65535.")
        host = parts.hostname or ""
        check_host(host, resolve=False)
        try:
            httpx.URL(url)
        except (httpx.InvalidURL, ValueError) as exc:
            raise TargetNotAllowed(f"This is not a valid URL ({exc}).")
        if resolve:
            check_host(host, resolve=True, port=port or (443 if scheme == "https" else 80))
    except TargetNotAllowed as exc:
        if field != "url":
            raise TargetNotAllowed(exc.message, field=field)
        raise
    return url


# --- connecting --------------------------------------------------------------------------------


def _checked_addresses(host: str, port: int) -> list[str]:
    """Resolve once and check every address; the caller connects to these, not to the name."""
    check_host(host, resolve=False, port=port)
    bare = host.strip("[]")
    addresses = [ipaddress.ip_address(bare)] if _is_ip_literal(bare) else resolve_host(bare, port)
    if not addresses:
        raise httpcore.ConnectError(f"{host} does not resolve to any address.")
    for ip in addresses:
        check_address(ip, host=bare)
    return [str(ip) for ip in addresses]


class GuardedBackend(httpcore.SyncBackend):
    """httpcore network backend that connects only to checked addresses.

    TLS still verifies the certificate against the URL's host name: httpcore passes the origin's
    host as server_hostname, independent of the address the socket connected to.
    """

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last_error: Exception | None = None
        for address in _checked_addresses(host, port):
            try:
                return super().connect_tcp(
                    address,
                    port,
                    timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:  # try the next address, as create_connection does
                last_error = exc
        raise last_error or httpcore.ConnectError(f"could not connect to {host}")

    def connect_unix_socket(self, *args, **kwargs):
        raise TargetNotAllowed("Unix sockets are not a target for outgoing requests.")


class AsyncGuardedBackend(httpcore.AnyIOBackend):
    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        import anyio

        addresses = await anyio.to_thread.run_sync(_checked_addresses, host, port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await super().connect_tcp(
                    address,
                    port,
                    timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError(f"could not connect to {host}")

    async def connect_unix_socket(self, *args, **kwargs):
        raise TargetNotAllowed("Unix sockets are not a target for outgoing requests.")


class GuardedTransport(httpx.HTTPTransport):
    """httpx transport over GuardedBackend; environment proxies are never used."""

    def __init__(self, *, verify=True, retries: int = 0, limits: httpx.Limits | None = None):
        limits = limits or httpx.Limits(max_connections=20, max_keepalive_connections=5)
        super().__init__(verify=verify, retries=retries, limits=limits, trust_env=False)
        ssl_context = self._pool._ssl_context
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            retries=retries,
            network_backend=GuardedBackend(),
        )


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, *, verify=True, retries: int = 0, limits: httpx.Limits | None = None):
        limits = limits or httpx.Limits(max_connections=20, max_keepalive_connections=5)
        super().__init__(verify=verify, retries=retries, limits=limits, trust_env=False)
        ssl_context = self._pool._ssl_context
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            retries=retries,
            network_backend=AsyncGuardedBackend(),
        )


def _check_request_url(request: httpx.Request) -> None:
    """Per hop (first request and every redirect): scheme and host spelling."""
    if request.url.scheme not in ("http", "https"):
        raise TargetNotAllowed(f"Requests to {request.url.scheme}:// URLs are not sent.")
    check_host(request.url.host, resolve=False)


async def _check_request_url_async(request: httpx.Request) -> None:
    _check_request_url(request)


def guarded_client(
    *, timeout: float = 10.0, follow_redirects: bool = False, max_redirects: int = 5, **kwargs
) -> httpx.Client:
    """An httpx.Client for customer-supplied URLs (use as a context manager).

    Refused targets raise TargetNotAllowed (a MailherdError with a plain message) from the request
    call; other network failures raise httpx errors as usual.
    """
    hooks = kwargs.pop("event_hooks", {}) or {}
    hooks = {**hooks, "request": [_check_request_url, *hooks.get("request", [])]}
    return httpx.Client(
        transport=GuardedTransport(verify=kwargs.pop("verify", True)),
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        trust_env=False,
        event_hooks=hooks,
        **kwargs,
    )


def guarded_async_client(
    *, timeout: float = 10.0, follow_redirects: bool = False, max_redirects: int = 5, **kwargs
) -> httpx.AsyncClient:
    hooks = kwargs.pop("event_hooks", {}) or {}
    hooks = {**hooks, "request": [_check_request_url_async, *hooks.get("request", [])]}
    return httpx.AsyncClient(
        transport=AsyncGuardedTransport(verify=kwargs.pop("verify", True)),
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        trust_env=False,
        event_hooks=hooks,
        **kwargs,
    )
