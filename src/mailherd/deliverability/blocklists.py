"""Operator: every mail server's IPs checked against the DNS blocklists it configures (writes).

Lookups go only to the configured resolvers (MAILHERD_DNS_NAMESERVERS), as DNSBLs expect
(RFC 5782): the reversed IP under the list's zone; an A answer in 127.0.0.0/8 means listed, NXDOMAIN
means not listed. Answers 127.255.255.x are the lists' own error codes (e.g. Spamhaus refusing
queries from public resolvers) and mean "could not check", never "listed".
"""

import asyncio
import ipaddress
import logging

import dns.asyncresolver
import dns.exception
import dns.resolver
import dns.reversename
from django.utils import timezone

from mailherd.deliverability.models import Blocklist, BlocklistResult

logger = logging.getLogger(__name__)


def _query_name(ip: str, zone: str) -> str:
    """1.2.0.192.zone for IPv4; nibbles for IPv6 (RFC 5782 §2.4)."""
    reverse = dns.reversename.from_address(ip).to_text(omit_final_dot=True)
    prefix = reverse.removesuffix(".in-addr.arpa").removesuffix(".ip6.arpa")
    return f"{prefix}.{zone.strip('.')}"


async def _server_ips(resolver, host: str) -> tuple[list[str], str]:
    ips, problems = [], []
    for rtype in ("A", "AAAA"):
        try:
            answer = await resolver.resolve(host, rtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        except dns.exception.DNSException as exc:
            problems.append(f"{rtype}: {exc.__class__.__name__}")
            continue
        ips.extend(rdata.address for rdata in answer)
    return ips, "; ".join(problems)


async def _check(resolver, gate, ip: str, zone: str) -> tuple[str, str, str]:
    """(status, answer, reason) for one IP on one list."""
    name = _query_name(ip, zone)
    async with gate:
        try:
            answer = await resolver.resolve(name, "A")
        except dns.resolver.NXDOMAIN:
            return BlocklistResult.Status.CLEAN, "", ""
        except dns.resolver.NoAnswer:
            return BlocklistResult.Status.CLEAN, "", ""
        except dns.exception.DNSException as exc:
            return (
                BlocklistResult.Status.UNKNOWN,
                "",
                f"The resolver did not answer ({exc.__class__.__name__}).",
            )
        addresses = sorted(rdata.address for rdata in answer)
        loopback = [
            a for a in addresses if ipaddress.ip_address(a) in ipaddress.ip_network("127.0.0.0/8")
        ]
        if not loopback or all(a.startswith("127.255.255.") for a in loopback):
            return (
                BlocklistResult.Status.UNKNOWN,
                ", ".join(addresses),
                "The list refused the query or answered out of range (for Spamhaus: use your own "
                "resolver or a data query service key, not a public resolver).",
            )
        try:
            txt = await resolver.resolve(name, "TXT")
            reason = " ".join(b"".join(r.strings).decode(errors="replace") for r in txt)
        except dns.exception.DNSException:
            reason = ""
        return BlocklistResult.Status.LISTED, ", ".join(loopback), reason[:1000]


async def _check_all(servers, zones) -> dict:
    """{server id: (answers {(ip, zone): (status, answer, reason)}, problem finding its IPs)}."""
    from mailherd.dns.resolver import make_async_resolver

    resolver = make_async_resolver()
    gate = asyncio.Semaphore(50)
    results = {}
    for server in servers:
        hosts = list(dict.fromkeys(h for h in (server.public_host, server.smtp_host) if h))
        ips, problems = [], []
        for host in hosts:
            found, problem = await _server_ips(resolver, host)
            ips.extend(ip for ip in found if ip not in ips)
            if problem:
                problems.append(f"{host} {problem}")
        checks = [(ip, zone) for ip in ips for zone in zones]
        answers = await asyncio.gather(*(_check(resolver, gate, ip, zone) for ip, zone in checks))
        results[server.pk] = (dict(zip(checks, answers, strict=True)), "; ".join(problems))
    return results


def blocklists_check(*, servers=None) -> list[BlocklistResult]:
    """Check every active server's IPs against every enabled list; keep the latest answers."""
    from mailherd.mailcow.models import MailServer

    servers = list(servers if servers is not None else MailServer.objects.filter(is_active=True))
    lists = {b.zone: b for b in Blocklist.objects.filter(enabled=True)}
    if not servers or not lists:
        return []
    answers = asyncio.run(_check_all(servers, list(lists)))
    now = timezone.now()
    kept = []
    for server in servers:
        seen = []
        server_answers, problem = answers.get(server.pk, ({}, ""))
        for (ip, zone), (status, answer, reason) in server_answers.items():
            blocklist = lists[zone]
            previous = BlocklistResult.objects.filter(
                server=server, ip=ip, blocklist=blocklist
            ).first()
            listed_since = None
            if status == BlocklistResult.Status.LISTED:
                listed_since = (
                    previous.listed_since
                    if previous and previous.status == BlocklistResult.Status.LISTED
                    else now
                )
            result, _ = BlocklistResult.objects.update_or_create(
                server=server,
                ip=ip,
                blocklist=blocklist,
                defaults={
                    "status": status,
                    "answer": answer,
                    "reason": reason,
                    "listed_since": listed_since,
                    "checked_at": now,
                },
            )
            if status == BlocklistResult.Status.LISTED and not (previous and previous.listed_since):
                logger.warning("mail server %s (%s) is listed on %s", server, ip, zone)
            seen.append(result.pk)
            kept.append(result)
        stale = BlocklistResult.objects.filter(server=server).exclude(pk__in=seen)
        if problem:
            # Its addresses could not all be looked up: keep what we knew, marked as unchecked.
            stale.update(
                status=BlocklistResult.Status.UNKNOWN,
                reason=f"Could not look up the server's addresses ({problem}).",
                checked_at=now,
            )
        else:
            stale.delete()  # IPs the server no longer has are no longer its problem
    return kept
