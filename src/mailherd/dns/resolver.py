"""DNS lookups against the configured nameservers (MAILHERD_DNS_NAMESERVERS)."""

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
from django.conf import settings


def parse_nameserver(entry: str) -> tuple[str, int]:
    """ "1.2.3.4", "1.2.3.4:5300", "::1", "[::1]:5300" → (address, port)."""
    entry = entry.strip()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest.removeprefix(":") or 53)
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port or 53)
    return entry, 53


def _nameservers() -> list[tuple[str, int]]:
    return [parse_nameserver(entry) for entry in settings.MAILHERD_DNS_NAMESERVERS if entry.strip()]


def _configure(resolver) -> None:
    servers = _nameservers()
    if servers:
        # Each server with its own port (the resolver's single `port` applies only to bare
        # addresses).
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in servers]
    resolver.lifetime = settings.MAILHERD_DNS_TIMEOUT
    resolver.timeout = min(2.0, settings.MAILHERD_DNS_TIMEOUT)


def make_resolver() -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=not _nameservers())
    _configure(resolver)
    return resolver


def make_async_resolver() -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=not _nameservers())
    _configure(resolver)
    return resolver


class LookupFailed(Exception):
    """The nameservers did not answer (timeout, SERVFAIL): not the same as 'no such record'."""


def lookup_txt(name: str) -> list[str]:
    """Return the TXT strings at `name` (multi-string records joined), [] if there are none."""
    try:
        answer = make_resolver().resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise LookupFailed(str(exc))
    return [b"".join(rdata.strings).decode(errors="replace") for rdata in answer]
