"""DNS lookups against the configured nameservers (MAILHERD_DNS_NAMESERVERS)."""

import dns.asyncresolver
import dns.exception
import dns.resolver
from django.conf import settings


def _nameservers() -> list[tuple[str, int]]:
    servers = []
    for entry in settings.MAILHERD_DNS_NAMESERVERS:
        host, _, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "53")
        servers.append((host or entry, int(port or 53)))
    return servers


def _configure(resolver) -> None:
    servers = _nameservers()
    if servers:
        resolver.nameservers = [host for host, _ in servers]
        resolver.port = servers[0][1]
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
