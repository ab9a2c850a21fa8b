"""Benchmark: a full DNS check of N domains whose records live in a real PowerDNS on loopback.

Prints domains/s and queries/s of Mailherd's check (dns.checks.check_many, what the
periodic job runs) beside the raw rate of dnspython's async resolver asking the same
names of the same server in the same run.

    .venv/bin/python bench/dns_checks.py [--domains 5000] [--concurrency 200] [--max-seconds 300]

Loopback only: PowerDNS is started on 127.0.0.1 with security polling off; no query
leaves the machine. Bounded: each phase stops at --max-seconds.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailherd.settings")

import django  # noqa: E402

django.setup()

import dns.asyncresolver  # noqa: E402
import dns.exception  # noqa: E402
import dns.resolver  # noqa: E402

from mailherd.dns.checks import CheckSession, check_many  # noqa: E402
from mailherd.dns.records import DmarcPolicy, RecordSpec, ServerSpec, build_records, txt_zone_value  # noqa: E402
from tests.support.powerdns import PowerDNS  # noqa: E402

ZONE = "bench.test"
HOST = "mail.bench-provider.test"
DKIM = (
    "v=DKIM1;k=rsa;t=s;s=email;p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"
    + "Q" * 330
    + "IDAQAB"
)
BATCH = 200  # domains per PATCH to the PowerDNS API


def record_set(n: int):
    domain = f"d{n:05d}.{ZONE}"
    return build_records(
        RecordSpec(
            domain=domain,
            verification_name=f"_mailherd-verify.{domain}",
            verification_value=f"mailherd-verify=tok{n}",
            server=ServerSpec(
                HOST, imap_host=f"imap.{HOST}", smtp_host=f"smtp.{HOST}", pop3_host=f"pop.{HOST}"
            ),
            dkim_txt=DKIM,
            dmarc=DmarcPolicy("none", f"dmarc@{domain}"),
            setup_host="setup.bench-provider.test",
        )
    )


def _content(record) -> str:
    if record.type == "TXT":
        return txt_zone_value(record.value)
    head, _, host = record.content.rpartition(" ")
    return f"{head} {host}." if head else host + "."


def load(pdns: PowerDNS, record_sets) -> None:
    pdns.create_zone(ZONE)
    pdns.create_zone("bench-provider.test")
    pdns.set_record("bench-provider.test", HOST, "A", ["192.0.2.80"])
    pdns.create_zone("2.0.192.in-addr.arpa")
    pdns.set_record("2.0.192.in-addr.arpa", "80.2.0.192.in-addr.arpa", "PTR", [HOST + "."])
    for start in range(0, len(record_sets), BATCH):
        rrsets: dict[tuple[str, str], list[str]] = {}
        for records in record_sets[start : start + BATCH]:
            for r in records:
                rrsets.setdefault((r.name + ".", r.type), []).append(_content(r))
        pdns._api(
            "PATCH",
            f"/zones/{ZONE}.",
            json={
                "rrsets": [
                    {
                        "name": name,
                        "type": rtype,
                        "ttl": 3600,
                        "changetype": "REPLACE",
                        "records": [{"content": c, "disabled": False} for c in contents],
                    }
                    for (name, rtype), contents in rrsets.items()
                ]
            },
        )


def resolver_for(pdns: PowerDNS) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = pdns.dns_port
    resolver.timeout, resolver.lifetime = 2.0, 5.0
    return resolver


async def mailherd_check(pdns, record_sets, concurrency, max_seconds):
    session = CheckSession(resolver_for(pdns), concurrency=concurrency)
    started = time.perf_counter()
    results = await asyncio.wait_for(check_many(record_sets, session=session), timeout=max_seconds)
    return results, session.queries, time.perf_counter() - started


async def raw_queries(pdns, questions, concurrency, max_seconds):
    """The same (name, type) questions straight through dnspython's async resolver."""
    resolver = resolver_for(pdns)
    gate = asyncio.Semaphore(concurrency)
    errors = 0

    async def one(name, rtype):
        nonlocal errors
        async with gate:
            try:
                await resolver.resolve(name, rtype, search=False)
            except dns.exception.DNSException:
                errors += 1

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(one(n, t) for n, t in questions)), timeout=max_seconds)
    return time.perf_counter() - started, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves the script runs")
    args = parser.parse_args()
    if args.smoke:
        args.domains, args.concurrency, args.max_seconds = 20, 20, 60

    with tempfile.TemporaryDirectory(prefix="mh-bench-pdns-") as tmp:
        pdns = PowerDNS(Path(tmp)).start()
        try:
            t0 = time.perf_counter()
            record_sets = [record_set(n) for n in range(args.domains)]
            load(pdns, record_sets)
            print(
                f"loaded {args.domains} domains ({sum(map(len, record_sets))} records) into PowerDNS "
                f"in {time.perf_counter() - t0:.1f} s"
            )

            results, queries, seconds = asyncio.run(
                mailherd_check(pdns, record_sets, args.concurrency, args.max_seconds)
            )
            statuses: dict[str, int] = {}
            for domain_results in results:
                for r in domain_results:
                    statuses[r.status] = statuses.get(r.status, 0) + 1
            print(
                f"mailherd check : {args.domains} domains in {seconds:.2f} s = {args.domains / seconds:,.0f} domains/s, "
                f"{queries:,} queries = {queries / seconds:,.0f} queries/s  statuses {statuses}"
            )

            questions = list(
                dict.fromkeys(
                    (r.name, "TXT" if r.type == "TXT" else r.type) for rs in record_sets for r in rs
                )
            )
            raw_seconds, errors = asyncio.run(
                raw_queries(pdns, questions, args.concurrency, args.max_seconds)
            )
            print(
                f"raw dnspython  : {len(questions):,} queries in {raw_seconds:.2f} s = "
                f"{len(questions) / raw_seconds:,.0f} queries/s ({errors} errors)  "
                f"[dns.asyncresolver, concurrency {args.concurrency}]"
            )
            print(
                f"check overhead : {100 * (1 - (queries / seconds) / (len(questions) / raw_seconds)):.0f}% "
                f"below the raw query rate"
            )
        finally:
            pdns.stop()


if __name__ == "__main__":
    main()
