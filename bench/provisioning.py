"""Benchmark: mailbox provisioning end to end, against the raw client, in one run.

1. Starts the Mailcow simulator, Mailherd's web app (gunicorn) and Celery
   workers as separate processes on 127.0.0.1, on a fresh database (SQLite
   under a temporary folder; DATABASE_URL if set; with --postgres a PostgreSQL
   database this script creates and drops).
2. Creates mailboxes through the REST API (real HTTP) and waits until the
   workers have applied every outbox row to the simulator, five ways: with
   `password_hash` given (nothing to hash) one per call and 100 per bulk call;
   with plaintext passwords (Mailherd hashes them, bcrypt cost 10) from one
   client and from four clients of the same organization, and in bulk.
3. Creates N mailboxes with the raw Mailcow client on the same simulator, with
   the same number of threads, and times bcrypt per mailbox.
4. Renders the mailbox list page and API list at 10 and at 10,000 mailboxes,
   counting SQL queries and timing them.

Prints the rates, the ratios against the aims (on PostgreSQL: per call with
`password_hash` >= 0.3 of the raw client, bulk >= 0.8, four plaintext clients
>= 1.8 times one) and the list figures. Bounded in count and time.

    python bench/provisioning.py [--postgres] [--count 2000] [--plain-count 200] [--threads 8]
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
API_KEY = "BENCH-KEY-0002"
TIME_LIMIT = 900
BULK = 100
PASSWORD = "Bench-pass-123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def _proc_stats() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, command name, CPU ticks so far) of every process on this machine."""
    stats = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                data = f.read()
        except OSError:
            continue
        name = data[data.index("(") + 1 : data.rindex(")")]
        fields = data.rsplit(")", 1)[1].split()
        stats[int(entry)] = (int(fields[1]), name, int(fields[11]) + int(fields[12]))
    return stats


class CpuMeter:
    """CPU time per mailbox of each part: this script (the API clients), the web processes, the
    workers, the simulator and the database server (every postgres process of the machine)."""

    def __init__(self, roles: dict[int, str]):
        self.roles = {os.getpid(): "clients", **roles}  # a process and its children count as its role
        self.started = None

    def _by_role(self) -> dict[str, int]:
        stats = _proc_stats()
        totals: dict[str, int] = {}
        for pid, (_parent, name, ticks) in stats.items():
            role, seen = None, pid
            for _ in range(5):  # gunicorn master -> worker, and so on
                if seen in self.roles:
                    role = self.roles[seen]
                    break
                seen = stats.get(seen, (0,))[0]
            if role is None and name.startswith("postgres"):
                role = "database"
            if role:
                totals[role] = totals.get(role, 0) + ticks
        return totals

    def start(self) -> None:
        self.started = self._by_role()

    def report(self, count: int, unit: str = "mailbox") -> str:
        ended, hz = self._by_role(), os.sysconf("SC_CLK_TCK")
        parts = [
            f"{role} {(ended[role] - self.started.get(role, 0)) / hz * 1000 / count:.1f}"
            for role in ("web", "workers", "database", "simulator", "clients")
            if role in ended
        ]
        return f"ms of CPU per {unit}: " + ", ".join(parts)


def run_threads(count: int, threads: int, work) -> float:
    """Run work(i) for i in range(count) on `threads` threads; return the elapsed seconds."""
    counter = iter(range(count))
    lock = threading.Lock()
    errors = []

    def loop():
        while True:
            with lock:
                number = next(counter, None)
            if number is None:
                return
            try:
                work(number)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))

    started = time.perf_counter()
    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        print(f"  {len(errors)} errors, first: {errors[0]}")
        sys.exit(1)  # a benchmark that breaks must fail, not print a rate
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes (mailherd run: 2)")
    parser.add_argument("--web-threads", type=int, default=4, help="threads each (mailherd run: 4)")
    parser.add_argument("--list-size", type=int, default=10_000)
    parser.add_argument(
        "--postgres", action="store_true", help="on a PostgreSQL database created and dropped here"
    )
    parser.add_argument(
        "--plain-count", type=int, default=200, help="mailboxes per plaintext-password measurement"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves the script runs")
    args = parser.parse_args()
    if args.smoke:
        args.count, args.threads, args.workers, args.list_size = 20, 2, 1, 50
        args.plain_count = 8

    var_dir = Path(tempfile.mkdtemp(prefix="mailherd-bench-"))
    pg_database = None
    if args.postgres:
        pg_database = f"mh_provisioning_bench_{os.getpid()}"
        pg_execute(f'DROP DATABASE IF EXISTS "{pg_database}" WITH (FORCE)')
        pg_execute(f'CREATE DATABASE "{pg_database}"')
        os.environ["DATABASE_URL"] = urlunsplit(
            urlsplit(PG_ADMIN_URL)._replace(path=f"/{pg_database}")
        )
    try:
        run(args, var_dir)
    finally:
        if pg_database:
            from django.db import connections

            connections.close_all()
            pg_execute(f'DROP DATABASE IF EXISTS "{pg_database}" WITH (FORCE)')


def pg_execute(statement: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(statement)


def run(args, var_dir: Path) -> None:
    os.environ.setdefault(
        "MAILHERD_API_RATE", "1000000/m"
    )  # measure throughput, not the rate limit
    os.environ.update(
        MAILHERD_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="mailherd.settings",
        MAILHERD_LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.utils import timezone

    from mailherd.api.services import api_token_create
    from mailherd.core.actors import Actor
    from mailherd.hosting.models import Domain, ProvisioningOp
    from mailherd.hosting.services.domains import _domain_claim, domain_add
    from mailherd.mailcow.client import MailcowClient
    from mailherd.mailcow.models import MailServer
    from mailherd.plans.models import Plan
    from mailherd.tenancy.models import User
    from mailherd.tenancy.services import organization_create

    python = sys.executable
    environment = {**os.environ}
    sim_port, web_port = free_port(), free_port()
    processes = [
        subprocess.Popen(
            [
                python,
                "-m",
                "mailherd",
                "mailcow_sim",
                "--port",
                str(sim_port),
                "--api-key",
                API_KEY,
            ],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        wait_for_port(sim_port)
        sim_url = f"http://127.0.0.1:{sim_port}"
        system = Actor.system()
        plan = Plan.objects.create(
            slug="bench",
            name="Bench",
            max_domains=10,
            max_mailboxes=3 * args.count + 3 * args.plain_count + args.list_size,
            max_aliases=10,
            max_storage_mb=100 * (3 * args.count + 3 * args.plain_count + args.list_size),
            features=["api"],
        )
        owner = User.objects.create_user(email="bench@bench.test", password="x" * 12)
        organization = organization_create(
            actor=system, name="Bench", owner=owner, plan_slug=plan.slug
        )
        MailServer.objects.create(
            name="sim", api_url=sim_url, api_key=API_KEY, capacity_mailboxes=10**6
        )
        domain = domain_add(actor=system, organization=organization, name="bench.test")
        _domain_claim(actor=system, domain_id=domain.pk, now=timezone.now())
        _token, token = api_token_create(actor=system, organization=organization, name="bench")

        processes.append(
            subprocess.Popen(
                [
                    python,
                    "-m",
                    "gunicorn",
                    "mailherd.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{web_port}",
                    "--workers",
                    str(args.web_workers),
                    "--threads",
                    str(args.web_threads),
                    "--worker-class",
                    "gthread",
                    "--log-level",
                    "warning",
                ],
                env=environment,
            )
        )
        for number in range(args.workers):
            processes.append(
                subprocess.Popen(
                    [
                        python,
                        "-m",
                        "celery",
                        "-A",
                        "mailherd",
                        "worker",
                        "--pool",
                        "solo",
                        "--loglevel",
                        "WARNING",
                        "-n",
                        f"bench{number}@%h",
                    ],
                    env=environment,
                    stdout=subprocess.DEVNULL,
                )
            )
        wait_for_port(web_port)
        meter = CpuMeter(
            {processes[0].pid: "simulator", processes[1].pid: "web"}
            | {process.pid: "workers" for process in processes[2:]}
        )
        # the domain itself first, so the measurement is of mailboxes only
        from mailherd.hosting.provisioning import outbox_drain

        outbox_drain()
        assert Domain.objects.get(name="bench.test").status == "active"

        import httpx

        from mailherd.hosting.passwords import BCRYPT_COST, hash_many, hash_password

        local = threading.local()

        def http() -> httpx.Client:
            if not hasattr(local, "client"):
                local.client = httpx.Client(
                    base_url=f"http://127.0.0.1:{web_port}",
                    timeout=120,
                    headers={"Authorization": f"Bearer {token}"},
                )
            return local.client

        # One hash made here and given as password_hash: Mailherd checks it and hashes nothing.
        given_hash = hash_password(PASSWORD, cost=BCRYPT_COST)

        def credentials(hashed: bool) -> dict:
            return {"password_hash": given_hash} if hashed else {"password": PASSWORD}

        def api_create(prefix: str, hashed: bool):
            def work(number: int) -> None:
                body = {
                    "address": f"{prefix}{number}@bench.test",
                    "quota_mb": 10,
                    **credentials(hashed),
                }
                response = http().post("/api/v1/mailboxes", json=body)
                if response.status_code != 201:
                    raise RuntimeError(f"{response.status_code} {response.text[:200]}")

            return work

        def api_create_bulk(prefix: str, hashed: bool, count: int):
            def work(batch: int) -> None:
                numbers = range(batch * BULK, min((batch + 1) * BULK, count))
                items = [
                    {"address": f"{prefix}{n}@bench.test", "quota_mb": 10, **credentials(hashed)}
                    for n in numbers
                ]
                response = http().post("/api/v1/mailboxes/bulk", json={"mailboxes": items})
                if response.status_code != 200 or response.json()["refused"]:
                    raise RuntimeError(f"{response.status_code} {response.text[:200]}")

            return work

        broker = "Redis" if os.environ.get("CELERY_BROKER_URL") else "embedded broker"
        print(
            f"{args.count} mailboxes per measurement ({args.plain_count} with plaintext passwords), "
            f"{args.threads} client threads, {args.workers} workers ({broker}, "
            f"{django.db.connection.vendor}), bcrypt cost {BCRYPT_COST}"
        )
        raw = MailcowClient(sim_url, API_KEY)

        def measure(label: str, work, calls: int, threads: int, prefix: str, count: int) -> float:
            """End to end: from the first API call until the workers applied every row."""
            started = time.perf_counter()
            meter.start()
            api_seconds = run_threads(calls, threads, work)
            deadline = time.monotonic() + TIME_LIMIT
            while (
                ProvisioningOp.objects.exclude(status__in=["done", "failed"]).exists()
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            total = time.perf_counter() - started
            failed = ProvisioningOp.objects.filter(status="failed").count()
            applied = sum(
                1 for m in raw.list_mailboxes("bench.test") if m.address.startswith(prefix)
            )
            if failed or applied != count:
                sys.exit(f"  {label}: {applied} of {count} applied, {failed} failed")
            print(
                f"  {label}: API accepted all in {api_seconds:.1f} s "
                f"({count / api_seconds:.0f}/s); {applied} applied to Mailcow in {total:.1f} s "
                f"-> {applied / total:.0f} mailboxes/s end to end\n    {meter.report(count)}"
            )
            return applied / total

        # Every web process and connection loaded before timing anything.
        run_threads(4 * args.threads, args.threads, lambda _n: http().get("/api/v1/usage"))

        def api_read(_number: int) -> None:
            response = http().get("/api/v1/me")
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code} {response.text[:200]}")

        # The ceiling of any per-call measure here: the cheapest authenticated call (a token
        # check and one row read, no write, no worker) through the same web processes.
        reads = max(args.count, 200)
        meter.start()
        read_rate = reads / run_threads(reads, args.threads, api_read)
        print(f"  an authenticated read (GET /api/v1/me), for scale: {read_rate:.0f}/s; {meter.report(reads, 'call')}")
        n, m = args.count, args.plain_count
        per_call = measure(
            "password_hash given, one mailbox per API call",
            api_create("h", True),
            n,
            args.threads,
            "h",
            n,
        )
        bulk = measure(
            f"password_hash given, {BULK} per bulk API call",
            api_create_bulk("b", True, n),
            -(-n // BULK),
            args.threads,
            "b",
            n,
        )
        one = measure("plaintext passwords, one client", api_create("p", False), m, 1, "p", m)
        four = measure("plaintext passwords, four clients", api_create("q", False), m, 4, "q", m)
        plain_bulk = measure(
            f"plaintext passwords, {BULK} per bulk API call",
            api_create_bulk("r", False, m),
            -(-m // BULK),
            args.threads,
            "r",
            m,
        )

        raw.add_domain(
            "raw.test", quota_mib=10**6, max_mailbox_quota_mib=10**5, max_mailboxes=n + 10
        )
        local_raw = threading.local()

        def raw_create(number: int) -> None:
            if not hasattr(local_raw, "client"):
                local_raw.client = MailcowClient(sim_url, API_KEY)
            local_raw.client.add_mailbox(f"user{number}@raw.test", password=PASSWORD, quota_mib=10)

        meter.start()
        raw_seconds = run_threads(n, args.threads, raw_create)
        raw_rate = n / raw_seconds
        print(
            f"  Raw client, one call per mailbox (the simulator stores the password as given): "
            f"{n} in {raw_seconds:.1f} s -> {raw_rate:.0f} mailboxes/s\n    {meter.report(n)}"
        )
        # What bcrypt costs, now that Mailherd hashes instead of Mailcow's PHP.
        samples = 20 if not args.smoke else 4
        started = time.perf_counter()
        for _ in range(samples):
            hash_password(PASSWORD, cost=BCRYPT_COST)
        one_hash = (time.perf_counter() - started) / samples
        started = time.perf_counter()
        hash_many([PASSWORD] * (samples * 2))
        parallel = samples * 2 / (time.perf_counter() - started)
        print(
            f"  bcrypt cost {BCRYPT_COST}: {one_hash * 1000:.0f} ms CPU per mailbox on one core; "
            f"{parallel:.0f} hashes/s on all {os.cpu_count()} cores of this machine"
        )
        print("Ratios (aims on PostgreSQL):")
        print(f"  per call, password_hash given / raw: {per_call / raw_rate:.2f} (aim >= 0.3; "
              f"an authenticated read alone: {read_rate / raw_rate:.2f})")
        print(f"  bulk, password_hash given / raw:     {bulk / raw_rate:.2f} (aim >= 0.8)")
        print(f"  four clients / one client, plaintext: {four / one:.2f} (aim >= 1.8)")
        print(f"  bulk, plaintext / raw:               {plain_bulk / raw_rate:.2f}")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    list_figures(organization, args.list_size)


def list_figures(organization, list_size: int) -> None:
    """The list page and API list: the same number of queries at 10 and at `list_size` mailboxes."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from mailherd.api.services import api_token_create
    from mailherd.core.actors import Actor
    from mailherd.hosting.models import Domain, Mailbox, ProvisioningOp
    from mailherd.tenancy.models import User

    Mailbox.objects.all().delete()
    ProvisioningOp.objects.all().delete()
    domain = Domain.objects.get(name="bench.test")
    client = Client()
    client.force_login(User.objects.get(email="bench@bench.test"))
    _token, token = api_token_create(actor=Actor.system(), organization=organization, name="list")
    print(f"List page and API list at 10 and {list_size} mailboxes:")
    existing = 0
    for size in (10, list_size):
        Mailbox.objects.bulk_create(
            [
                Mailbox(
                    organization=organization,
                    domain=domain,
                    local_part=f"l{n}",
                    address=f"l{n}@bench.test",
                    quota_mb=10,
                    sync_status="active",
                )
                for n in range(existing, size)
            ],
            batch_size=2000,
        )
        existing = size
        for label, call in (
            ("page", lambda: client.get(f"/o/{organization.slug}/mailboxes/")),
            (
                "api ",
                lambda: client.get(
                    "/api/v1/mailboxes?limit=100", HTTP_AUTHORIZATION=f"Bearer {token}"
                ),
            ),
        ):
            call()  # warm up
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = call()
                elapsed = time.perf_counter() - started
            assert response.status_code == 200
            print(
                f"  {label} at {size:>6} mailboxes: {len(queries):>3} queries, {elapsed * 1000:6.1f} ms"
            )


if __name__ == "__main__":
    main()
