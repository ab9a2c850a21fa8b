"""Benchmark: DMARC aggregate reports ingested per second, and the senders page with a year of data.

Phase 1 ingests --reports gzipped reports (each --rows sources) through the same service the API,
the portal and the report mailbox use (parse, dedupe, store, daily sums, alerts) and prints
reports/s and records/s. Phase 2 loads a year of daily reports from --sources sources (365 reports
× 200 rows by default) and times the domain's senders page (`/o/<org>/domains/<name>/deliverability/`)
for 30 days and for the year, and `GET /api/v1/domains/{name}/dmarc?days=30`: median of --repeat.

    .venv/bin/python bench/dmarc.py [--reports 300] [--rows 20] [--sources 200] [--days 365]
    .venv/bin/python bench/dmarc.py --smoke

Embedded default: a fresh SQLite database in a temporary directory (or DATABASE_URL if set).
Nothing leaves the machine: reverse lookups are queued, not run, and mail goes to memory.
"""

import argparse
import gzip
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]
VAR = tempfile.mkdtemp(prefix="mailherd-bench-dmarc-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailherd.settings")
os.environ["MAILHERD_VAR_DIR"] = VAR
os.environ.setdefault("MAILHERD_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from mailherd.core.actors import Actor  # noqa: E402
from mailherd.deliverability.services import report_ingest  # noqa: E402
from tests.conftest import make_org, make_user  # noqa: E402
from tests.deliverability.reports import Row, aggregate_xml  # noqa: E402
from tests.hosting.conftest import verified_domain  # noqa: E402


def source_ip(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def rows_for(day: date, sources: int) -> list[Row]:
    # Most sources pass; every tenth fails SPF, every fiftieth fails both (a spoofer).
    return [
        Row(source_ip(s), 5 + (s * 7 + day.toordinal()) % 90, spf=s % 10 != 0, dkim=s % 50 != 0)
        for s in range(sources)
    ]


def ingest_all(domain, documents: list[bytes]) -> float:
    actor = Actor.system()
    started = time.perf_counter()
    for data in documents:
        report_ingest(actor=actor, domain=domain, data=data, received_via="api")
    return time.perf_counter() - started


def timed(client, url: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=300)
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    args = parser.parse_args()
    if args.smoke:
        args.reports, args.rows, args.sources, args.days, args.repeat = 10, 5, 10, 30, 2

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("migrate", verbosity=0)
    owner = make_user("bench@bench.test")
    organization = make_org(owner, "Bench")
    today = date.today()

    # Phase 1: ingestion rate.
    speed = verified_domain(organization, "ingest.bench.test")
    documents = [
        gzip.compress(
            aggregate_xml(
                domain=speed.name,
                rows=rows_for(today - timedelta(days=n % 60), args.rows),
                day=today - timedelta(days=n % 60),
                reporter=f"reporter{n // 60}.test",
            )
        )
        for n in range(args.reports)
    ]
    seconds = ingest_all(speed, documents)
    print(
        f"ingest: {args.reports} reports × {args.rows} records in {seconds:.2f} s = "
        f"{args.reports / seconds:.1f} reports/s, {args.reports * args.rows / seconds:.0f} records/s"
    )

    # Phase 2: a year of daily reports from N sources, then the page.
    year = verified_domain(organization, "year.bench.test")
    documents = [
        aggregate_xml(
            domain=year.name,
            rows=rows_for(today - timedelta(days=d), args.sources),
            day=today - timedelta(days=d),
        )
        for d in range(args.days)
    ]
    seconds = ingest_all(year, documents)
    print(
        f"load: {args.days} daily reports × {args.sources} sources in {seconds:.1f} s "
        f"({args.days / seconds:.1f} reports/s)"
    )
    client = Client()
    client.force_login(owner)
    page = f"/o/{organization.slug}/domains/{year.name}/deliverability/"
    client.get(page)  # warm-up (template and map loading)
    for label, url in [
        ("page, 30 days", page),
        (f"page, {args.days} days", f"{page}?days={args.days}"),
    ]:
        print(f"{label}: {timed(client, url, args.repeat) * 1000:.0f} ms (median of {args.repeat})")

    from mailherd.api.services import api_token_create

    _token, plaintext = api_token_create(
        actor=Actor.for_user(owner), organization=organization, name="bench"
    )
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    url = f"/api/v1/domains/{year.name}/dmarc?days=30"
    print(
        f"api dmarc?days=30: {timed(api, url, args.repeat) * 1000:.0f} ms (median of {args.repeat})"
    )


if __name__ == "__main__":
    main()
