"""Checking records against DNS with dnspython's async resolver, many at once.

One `CheckSession` serves a whole run (one domain from the portal, or
thousands from the periodic job): it bounds the queries in flight and
remembers answers for the run, so what domains share (the mail server's
reverse DNS, an SPF include) is asked once.

Statuses: ok, missing (NXDOMAIN / no such record), wrong (something else is
published; `found` says what), unknown ("could not check": timeout, SERVFAIL,
refused). A nameserver failure is never reported as "wrong".
"""

import asyncio
import time
from dataclasses import dataclass, field

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
import dns.reversename

from mailherd.dns import syntax
from mailherd.dns.records import (
    KEY_DKIM,
    KEY_DKIM_NEXT,
    KEY_DKIM_PREVIOUS,
    KEY_DMARC,
    KEY_MX,
    KEY_PTR,
    KEY_RELAY_MX,
    KEY_RELAY_SPF,
    KEY_SPF,
    KEY_VERIFY,
    Record,
)

OK, MISSING, WRONG, UNKNOWN = "ok", "missing", "wrong", "unknown"
STATUS_LABELS = {OK: "OK", MISSING: "Missing", WRONG: "Wrong", UNKNOWN: "Could not check"}
DEFAULT_CONCURRENCY = 200


@dataclass
class RecordResult:
    record: Record
    status: str  # ok, missing, wrong, unknown
    found: list[str] = field(default_factory=list)
    detail: str = ""

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    def as_dict(self) -> dict:
        return {
            "key": self.record.key,
            "type": self.record.type,
            "name": self.record.name,
            "expected": self.record.content,
            "status": self.status,
            "found": self.found,
            "detail": self.detail,
        }


@dataclass
class Answer:
    """The outcome of one lookup: values, or 'nothing there', or failure."""

    values: list[str] = field(default_factory=list)
    exists: bool = True  # False: NXDOMAIN or no record of that type
    error: str = ""  # non-empty: the servers did not give an answer

    @property
    def failed(self) -> bool:
        return bool(self.error)


def _text(rdata, rtype: str) -> str:
    if rtype == "TXT":
        return b"".join(rdata.strings).decode("utf-8", errors="replace")
    if rtype == "MX":
        return f"{rdata.preference} {rdata.exchange.to_text().rstrip('.').lower()}"
    if rtype == "SRV":
        return f"{rdata.priority} {rdata.weight} {rdata.port} {rdata.target.to_text().rstrip('.').lower()}"
    return rdata.to_text().rstrip(".").lower()


class CheckSession:
    """Async lookups with a bound on queries in flight and an answer memo for the run."""

    def __init__(
        self,
        resolver: dns.asyncresolver.Resolver | None = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
    ):
        if resolver is None:
            from mailherd.dns.resolver import make_async_resolver

            resolver = make_async_resolver()
        self.resolver = resolver
        self.semaphore = asyncio.Semaphore(concurrency)
        self.memo: dict[tuple[str, str], asyncio.Future] = {}
        self.queries = 0

    async def lookup(self, name: str, rtype: str) -> Answer:
        key = (name.lower().rstrip("."), rtype)
        future = self.memo.get(key)
        if future is None:
            future = self.memo[key] = asyncio.ensure_future(self._query(*key))
        return await future

    async def _query(self, name: str, rtype: str) -> Answer:
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException as exc:
            return Answer(error=f"bad name: {exc}")
        async with self.semaphore:
            self.queries += 1
            try:
                answer = await self.resolver.resolve(qname, rtype, search=False)
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                return Answer(exists=False)
            except dns.resolver.NoNameservers as exc:  # SERVFAIL / REFUSED from every server
                return Answer(error=f"the DNS servers failed to answer ({_short(exc)})")
            except dns.exception.Timeout:
                return Answer(error="the DNS servers did not answer in time")
            except dns.exception.DNSException as exc:
                return Answer(error=f"lookup failed: {_short(exc)}")
        return Answer(values=[_text(rdata, rtype) for rdata in answer])


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 160 else text[:157] + "…"


# --- per-record rules -------------------------------------------------------------------


def _missing_or_unknown(record: Record, answer: Answer) -> RecordResult | None:
    if answer.failed:
        return RecordResult(record, UNKNOWN, detail=answer.error)
    if not answer.exists or not answer.values:
        return RecordResult(
            record,
            MISSING,
            detail="Nothing is published at this name." if not answer.exists else "",
        )
    return None


async def _check_generic(session: CheckSession, record: Record) -> RecordResult:
    answer = await session.lookup(record.name, record.type)
    early = _missing_or_unknown(record, answer)
    if early:
        return early
    found = answer.values
    if record.type == "TXT":
        ok = record.value in found or _normal_tags(record.value) in {_normal_tags(v) for v in found}
    elif record.type == "SRV":
        # Priority and weight are the customer's to choose; port and target must match.
        want = record.value.lower().rstrip(".").split()[1:]
        ok = any(v.split()[2:] == want for v in found)
    else:
        ok = record.value.lower().rstrip(".") in found
    if ok:
        return RecordResult(record, OK, found)
    return RecordResult(record, WRONG, found, detail=f"Expected {record.content}.")


def _normal_tags(value: str) -> str:
    return ";".join(part.strip() for part in value.strip().rstrip(";").split(";"))


async def _check_verify(session: CheckSession, record: Record) -> RecordResult:
    answer = await session.lookup(record.name, "TXT")
    early = _missing_or_unknown(record, answer)
    if early:
        return early
    if record.value in answer.values:
        return RecordResult(record, OK, answer.values)
    return RecordResult(record, WRONG, answer.values, detail="The verification code differs.")


async def _check_mx(session: CheckSession, record: Record) -> RecordResult:
    answer = await session.lookup(record.name, "MX")
    early = _missing_or_unknown(record, answer)
    if early:
        return early
    host = record.value.lower().rstrip(".")
    targets = {v.split(" ", 1)[1] for v in answer.values}
    if targets == {host}:
        return RecordResult(record, OK, answer.values)
    if host in targets:
        others = ", ".join(sorted(targets - {host}))
        return RecordResult(
            record,
            WRONG,
            answer.values,
            detail=f"Other servers also receive this domain's mail: {others}.",
        )
    return RecordResult(record, WRONG, answer.values, detail=f"Mail goes elsewhere, not to {host}.")


async def spf_lookup_count(
    session: CheckSession, record: syntax.SpfRecord, *, depth: int = 0, seen=None
) -> tuple[int, str]:
    """Count the DNS lookups an SPF evaluation makes (RFC 7208 4.6.4), following include and redirect.

    Return (count, problem); problem is non-empty when a nested record could
    not be fetched or is broken (the count is then a lower bound).
    """
    seen = set() if seen is None else seen
    count, problem = 0, ""
    for term in record.lookup_terms:
        count += 1
        if term.mechanism not in ("include", "redirect") or "%" in term.value:
            continue
        target = term.value.lower().rstrip(".")
        if target in seen or depth >= 10:
            problem = problem or f"{target}: include loop"
            continue
        seen.add(target)
        answer = await session.lookup(target, "TXT")
        if answer.failed:
            problem = problem or f"could not fetch {target}: {answer.error}"
            continue
        nested = [v for v in answer.values if syntax.is_spf(v)]
        if len(nested) != 1:
            problem = problem or f"{target} has {len(nested)} SPF records"
            continue
        sub_count, sub_problem = await spf_lookup_count(
            session, syntax.parse_spf(nested[0]), depth=depth + 1, seen=seen
        )
        count += sub_count
        problem = problem or sub_problem
    return count, problem


async def _check_spf(session: CheckSession, record: Record) -> RecordResult:
    answer = await session.lookup(record.name, "TXT")
    early = _missing_or_unknown(record, answer)
    if early:
        return early
    spf = [v for v in answer.values if syntax.is_spf(v)]
    if not spf:
        return RecordResult(
            record,
            MISSING,
            answer.values,
            detail="There is no SPF record (v=spf1) among the TXT records.",
        )
    if len(spf) > 1:
        return RecordResult(
            record,
            WRONG,
            spf,
            detail=f"{len(spf)} SPF records: receivers treat more than one as an error.",
        )
    parsed = syntax.parse_spf(spf[0])
    problems = list(parsed.errors)
    expected = syntax.parse_spf(record.value)
    for term in expected.terms:
        if term.mechanism in ("mx", "a", "include") and not parsed.has(term.mechanism, term.value):
            if term.mechanism == "mx" and parsed.has("a", _spf_host(expected)):
                continue  # a:host alone authorizes the server too
            if term.mechanism == "a" and parsed.has("mx"):
                continue
            problems.append(f"{term} is missing")
    if parsed.all_qualifier == "+":
        problems.append("+all lets anyone send as this domain")
    elif parsed.all_qualifier is None and not any(
        t.modifier and t.mechanism == "redirect" for t in parsed.terms
    ):
        problems.append("no final all: mail from anywhere else is not refused")
    count, lookup_problem = await spf_lookup_count(session, parsed)
    if count > syntax.SPF_LOOKUP_LIMIT:
        problems.append(f"{count} DNS lookups, more than the limit of {syntax.SPF_LOOKUP_LIMIT}")
    if problems:
        return RecordResult(record, WRONG, spf, detail="; ".join(problems) + ".")
    notes = [f"{count} of {syntax.SPF_LOOKUP_LIMIT} DNS lookups"]
    if lookup_problem:
        notes.append(lookup_problem)
    if spf[0].split() != record.value.split():
        notes.append("differs from ours but authorizes the server")
    return RecordResult(record, OK, spf, detail="; ".join(notes) + ".")


def _spf_host(expected: syntax.SpfRecord) -> str:
    return next((t.value for t in expected.terms if t.mechanism == "a" and t.value), "")


async def _check_dkim(session: CheckSession, record: Record) -> RecordResult:
    answer = await session.lookup(record.name, "TXT")
    early = _missing_or_unknown(record, answer)
    if early:
        return early
    want = syntax.dkim_public_key(record.value)
    keys = [syntax.dkim_public_key(v) for v in answer.values]
    if want and want in keys:
        return RecordResult(record, OK, answer.values)
    if any(keys):
        return RecordResult(
            record,
            WRONG,
            answer.values,
            detail=f"A different key is published (…{keys[0][-12:]}); Mailcow signs with …{want[-12:]}.",
        )
    return RecordResult(
        record, WRONG, answer.values, detail="No DKIM public key (p=) in the record."
    )


async def _check_dmarc(session: CheckSession, record: Record) -> RecordResult:
    answer = await session.lookup(record.name, "TXT")
    early = _missing_or_unknown(record, answer)
    if early:
        return early
    dmarc = [v for v in answer.values if syntax.is_dmarc(v)]
    if not dmarc:
        return RecordResult(record, MISSING, answer.values, detail="No v=DMARC1 record.")
    if len(dmarc) > 1:
        return RecordResult(
            record, WRONG, dmarc, detail="More than one DMARC record: receivers ignore them all."
        )
    tags, problems = syntax.parse_dmarc(dmarc[0])
    want, _ = syntax.parse_dmarc(record.value)
    if not problems:
        if tags.get("p", "").lower() != want["p"]:
            problems.append(f"p={tags.get('p')} is published, the plan is p={want['p']}")
        missing_rua = set(syntax.dmarc_addresses(want)) - set(syntax.dmarc_addresses(tags))
        if missing_rua:
            problems.append(f"reports do not go to {', '.join(sorted(missing_rua))}")
        if want.get("pct", "100") != tags.get("pct", "100"):
            problems.append(
                f"pct={tags.get('pct', '100')} is published, the plan is pct={want.get('pct', '100')}"
            )
    if problems:
        return RecordResult(record, WRONG, dmarc, detail="; ".join(problems) + ".")
    return RecordResult(record, OK, dmarc)


async def check_reverse_dns(session: CheckSession, host: str) -> RecordResult:
    """The server's addresses must resolve back to its name (forward-confirmed reverse DNS)."""
    record = Record(
        "PTR",
        host,
        host,
        purpose="reverse DNS of the mail server (set by the operator)",
        key=KEY_PTR,
        zone=host,
        optional=True,
    )
    v4, v6 = await asyncio.gather(session.lookup(host, "A"), session.lookup(host, "AAAA"))
    if v4.failed and v6.failed:
        return RecordResult(record, UNKNOWN, detail=v4.error)
    addresses = v4.values + v6.values
    if not addresses:
        return RecordResult(record, WRONG, detail=f"{host} has no address.")
    answers = await asyncio.gather(
        *(session.lookup(dns.reversename.from_address(a).to_text(), "PTR") for a in addresses)
    )
    found, problems, unknown = [], [], False
    for address, answer in zip(addresses, answers, strict=True):
        if answer.failed:
            unknown = True
            continue
        names = answer.values
        found += [f"{address} → {n}" for n in names] or [f"{address} → (none)"]
        if host not in names:
            problems.append(address)
    if problems:
        status = MISSING if all(f.endswith("(none)") for f in found) else WRONG
        return RecordResult(
            record,
            status,
            found,
            detail=f"Reverse DNS of {', '.join(problems)} does not name {host}.",
        )
    if unknown:
        return RecordResult(record, UNKNOWN, found, detail="Some reverse lookups failed.")
    return RecordResult(record, OK, found)


RULES = {
    KEY_VERIFY: _check_verify,
    KEY_MX: _check_mx,
    KEY_SPF: _check_spf,
    KEY_DKIM: _check_dkim,
    KEY_DKIM_NEXT: _check_dkim,
    KEY_DKIM_PREVIOUS: _check_dkim,
    KEY_DMARC: _check_dmarc,
    KEY_RELAY_MX: _check_mx,
    KEY_RELAY_SPF: _check_spf,
}


async def check_record(session: CheckSession, record: Record) -> RecordResult:
    rule = RULES.get(record.key, _check_generic)
    try:
        return await rule(session, record)
    except dns.exception.DNSException as exc:  # e.g. a name DNS cannot hold
        return RecordResult(record, UNKNOWN, detail=_short(exc))


async def check_records(
    session: CheckSession, records: list[Record], *, reverse_dns: bool = True
) -> list[RecordResult]:
    """Check every record at once; add the server's reverse DNS when there is an MX."""
    jobs = [check_record(session, r) for r in records]
    mx = next((r for r in records if r.key == KEY_MX), None)
    if reverse_dns and mx is not None:
        jobs.append(check_reverse_dns(session, mx.value))
    return list(await asyncio.gather(*jobs))


async def check_many(
    record_sets: list[list[Record]],
    *,
    session: CheckSession | None = None,
    domains_in_flight: int = 500,
) -> list[list[RecordResult]]:
    """Check many domains' records concurrently (order kept)."""
    session = session or CheckSession()
    gate = asyncio.Semaphore(domains_in_flight)

    async def one(records):
        async with gate:
            return await check_records(session, records)

    return list(await asyncio.gather(*(one(records) for records in record_sets)))


def run(coro):
    """Run a coroutine from sync code, also when the thread already has a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def check_records_sync(records: list[Record]) -> tuple[list[RecordResult], int]:
    """Check one domain's records; return (results, duration in ms)."""
    started = time.monotonic()

    async def go():
        return await check_records(CheckSession(), records)

    results = run(go())
    return results, int((time.monotonic() - started) * 1000)
