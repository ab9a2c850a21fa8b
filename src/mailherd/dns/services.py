"""Checking a domain's records in DNS."""

from dataclasses import dataclass, field

import dns.exception
import dns.resolver

from mailherd.dns.records import Record, domain_records
from mailherd.dns.resolver import make_resolver


@dataclass
class RecordResult:
    record: Record
    status: str  # ok, missing, wrong, unknown
    found: list[str] = field(default_factory=list)


def _normalise(record_type: str, value: str) -> str:
    value = value.strip().rstrip(".").lower() if record_type in ("MX", "CNAME") else value.strip()
    return value


def _lookup(resolver, record: Record) -> list[str]:
    answer = resolver.resolve(record.name, record.type)
    values = []
    for rdata in answer:
        if record.type == "TXT":
            values.append(b"".join(rdata.strings).decode(errors="replace"))
        elif record.type == "MX":
            values.append(f"{rdata.preference} {rdata.exchange.to_text().rstrip('.').lower()}")
        else:
            values.append(rdata.to_text().rstrip(".").lower())
    return values


def domain_check(*, domain) -> list[RecordResult]:
    """Look up every record the domain needs and say whether it is there and right."""
    resolver = make_resolver()
    results = []
    for record in domain_records(domain):
        try:
            found = _lookup(resolver, record)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            results.append(RecordResult(record, "missing"))
            continue
        except (dns.exception.Timeout, dns.resolver.NoNameservers):
            results.append(RecordResult(record, "unknown"))
            continue
        expected = f"{record.priority} {record.value.lower()}" if record.type == "MX" else _normalise(record.type, record.value)
        status = "ok" if expected in [_normalise(record.type, v) if record.type != "MX" else v for v in found] else "wrong"
        results.append(RecordResult(record, status, found))
    return results
