"""Benchmark: 20 concurrent API clients creating mailboxes against `mailherd run`.

For each database (the embedded SQLite default, then PostgreSQL):

1. a fresh var/ folder (and, for PostgreSQL, a database this script creates and drops);
2. the Mailcow simulator (`mailherd mailcow_sim`) as a separate process, registered as the
   server; a verified domain, a plan big enough, an API token;
3. `mailherd run` as a real subprocess: web workers, Celery worker, scheduler, exactly as an
   operator starts it;
4. N client threads, each with its own HTTP connection, POST /api/v1/mailboxes one after another
   for the given time (plaintext passwords: Mailherd hashes them);
5. waits until the workers have applied every outbox row to the simulator, then stops `mailherd
   run` with SIGTERM and times the stop.

Prints, per database: requests, errors (any answer but 201, or a transport error: must be 0),
creates/s accepted by the API, mailboxes/s applied end to end, outbox rows failed, stop time.
Exits non-zero when anything failed.

    python bench/concurrent_clients.py [--clients 20] [--seconds 30] [--databases sqlite,postgres]
                                       [--password-hash]
    python bench/concurrent_clients.py --smoke      # 4 clients, 3 s
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "BENCH-CONCURRENT-KEY-01"
PASSWORD = "Bench-pass-123"
DOMAIN = "bench.test"
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
APPLY_TIMEOUT = 600

# Run in a child process (with the environment of one database) to prepare its data.
SETUP = """
import sys
import django
django.setup()
from django.core.management import call_command
from django.utils import timezone
call_command("migrate", verbosity=0)
from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.hosting.services.domains import _domain_claim, domain_add
from mailherd.hosting.provisioning import outbox_drain
from mailherd.mailcow.models import MailServer
from mailherd.plans.models import Plan
from mailherd.tenancy.models import User
from mailherd.tenancy.services import organization_create
system = Actor.system()
plan = Plan.objects.create(slug="bench", name="Bench", max_domains=10, max_mailboxes=10**6,
                           max_aliases=10, max_storage_mb=10**9, features=["api"])
owner = User.objects.create_user(email="bench@bench.test", password="x" * 12)
organization = organization_create(actor=system, name="Bench", owner=owner, plan_slug=plan.slug)
MailServer.objects.create(name="sim", api_url=sys.argv[1], api_key=sys.argv[2],
                          capacity_mailboxes=10**6)
domain = domain_add(actor=system, organization=organization, name=sys.argv[3])
_domain_claim(actor=system, domain_id=domain.pk, now=timezone.now())
outbox_drain()
print(api_token_create(actor=system, organization=organization, name="bench")[1])
"""

# Counts what the workers did, once the clients stopped.
OUTBOX = """
import django
django.setup()
from mailherd.hosting.models import ProvisioningOp
rows = ProvisioningOp.objects.filter(kind="mailbox.create")
print(rows.exclude(status="done").count(), rows.filter(status="failed").count())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process for port {port} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


def pg_url(name: str) -> str:
    return urlunsplit(urlsplit(PG_ADMIN_URL)._replace(path=f"/{name}"))


def pg_execute(statement: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(statement)


def clients_run(
    base_url: str, token: str, clients: int, seconds: float, password_hash: str | None = None
) -> dict:
    """`clients` threads creating mailboxes one after another for `seconds`."""
    import httpx

    credentials = {"password_hash": password_hash} if password_hash else {"password": PASSWORD}

    statuses: Counter = Counter()
    first_errors: list[str] = []
    created = [0] * clients
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(number: int) -> None:
        http = httpx.Client(
            base_url=base_url, timeout=120, headers={"Authorization": f"Bearer {token}"}
        )
        sequence = 0
        with http:
            while time.monotonic() < stop_at:
                body = {"address": f"c{number}-{sequence}@{DOMAIN}", "quota_mb": 10, **credentials}
                sequence += 1
                try:
                    response = http.post("/api/v1/mailboxes", json=body)
                    status, text = response.status_code, response.text
                except httpx.HTTPError as exc:
                    status, text = "transport", repr(exc)
                with lock:
                    statuses[status] += 1
                    if status != 201 and len(first_errors) < 5:
                        first_errors.append(f"{status} {text[:300]}")
                if status == 201:
                    created[number] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {
        "requests": sum(statuses.values()),
        "created": sum(created),
        "errors": sum(count for status, count in statuses.items() if status != 201),
        "statuses": dict(statuses),
        "first_errors": first_errors,
        "elapsed": elapsed,
    }


def measure(
    database: str, clients: int, seconds: float, web_workers: int, password_hash: str | None
) -> dict:
    var_dir = Path(tempfile.mkdtemp(prefix=f"mailherd-concurrent-{database}-"))
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "DATABASE_URL", "REDIS_URL"))
    }
    environment.update(
        MAILHERD_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="mailherd.settings",
        MAILHERD_API_RATE="1000000/m",  # measure throughput, not the rate limit
        PYTHONPATH=str(ROOT / "src"),
    )
    db_name = None
    if database == "postgres":
        db_name = f"mh_concurrent_bench_{os.getpid()}"
        pg_execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        pg_execute(f'CREATE DATABASE "{db_name}"')
        environment["DATABASE_URL"] = pg_url(db_name)
    python = sys.executable
    sim_port, web_port = free_port(), free_port()
    processes: list[subprocess.Popen] = []
    try:
        sim = subprocess.Popen(
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
        processes.append(sim)
        wait_for_port(sim_port, sim)
        sim_url = f"http://127.0.0.1:{sim_port}"
        setup = subprocess.run(
            [python, "-c", SETUP, sim_url, API_KEY, DOMAIN],
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if setup.returncode != 0:
            raise RuntimeError(f"setup failed: {setup.stderr[-2000:]}")
        token = setup.stdout.strip().splitlines()[-1]
        log = open(var_dir / "run.log", "w")  # noqa: SIM115 - closed below
        run = subprocess.Popen(
            [
                python,
                "-m",
                "mailherd",
                "run",
                "--port",
                str(web_port),
                "--mcp-port",
                str(free_port()),
                "--web-workers",
                str(web_workers),
            ],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(run)
        wait_for_port(web_port, run)
        started = time.monotonic()
        result = clients_run(f"http://127.0.0.1:{web_port}", token, clients, seconds, password_hash)
        # every accepted create applied to Mailcow by the workers
        deadline = time.monotonic() + APPLY_TIMEOUT
        while True:
            counted = subprocess.run(
                [python, "-c", OUTBOX], env=environment, capture_output=True, text=True
            )
            if counted.returncode != 0:
                raise RuntimeError(f"outbox count failed: {counted.stderr[-2000:]}")
            pending, failed = (int(n) for n in counted.stdout.split())
            if pending == failed or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        import httpx

        summary = httpx.get(f"{sim_url}/_sim/state", timeout=30).json()
        applied_total = time.monotonic() - started
        mailboxes = summary.get("mailboxes", [])
        applied = len(mailboxes) if not isinstance(mailboxes, int) else mailboxes
        stop_started = time.monotonic()
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            run.kill()
        stop_seconds = time.monotonic() - stop_started
        log.close()
        result.update(
            database=database,
            applied=applied,
            pending=pending - failed,
            failed=failed,
            applied_seconds=applied_total,
            stop_seconds=stop_seconds,
            locked=(var_dir / "run.log").read_text(errors="replace").count("database is locked"),
            log=str(var_dir / "run.log"),
        )
        return result
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if db_name:
            pg_execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def report(result: dict, clients: int) -> bool:
    ok = (
        result["errors"] == 0
        and result["failed"] == 0
        and result["pending"] == 0
        and result["applied"] == result["created"]
        and result["locked"] == 0
    )
    print(
        f"{result['database']:>8}: {clients} clients, {result['elapsed']:.1f} s: "
        f"{result['requests']} requests, {result['errors']} errors, "
        f"{result['created'] / result['elapsed']:.1f} creates/s accepted; "
        f"{result['applied']} applied to Mailcow in {result['applied_seconds']:.1f} s "
        f"({result['applied'] / result['applied_seconds']:.1f}/s end to end), "
        f"{result['failed']} outbox rows failed, {result['pending']} left pending, "
        f"'database is locked' in the log: {result['locked']}; "
        f"SIGTERM stopped mailherd run in {result['stop_seconds']:.1f} s"
    )
    if not ok:
        print(f"   statuses: {result['statuses']}; first errors: {result['first_errors']}")
        print(f"   log: {result['log']}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument(
        "--password-hash",
        action="store_true",
        help="send a {BLF-CRYPT} hash instead of a password: nothing to hash, the database does more",
    )
    parser.add_argument("--smoke", action="store_true", help="4 clients for 3 s")
    args = parser.parse_args()
    given_hash = None
    if args.password_hash:
        from mailherd.hosting.passwords import hash_password

        given_hash = hash_password(PASSWORD, cost=10)
    if args.smoke:
        args.clients, args.seconds = 4, 3
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    print(
        f"{args.clients} API clients creating mailboxes for {args.seconds:.0f} s against "
        f"`mailherd run` ({args.web_workers} web workers, its Celery worker and scheduler) "
        "and the Mailcow simulator, "
        + ("password_hash given" if given_hash else "plaintext passwords (bcrypt cost 10)")
    )
    ok = True
    for database in databases:
        ok = (
            report(
                measure(database, args.clients, args.seconds, args.web_workers, given_hash),
                args.clients,
            )
            and ok
        )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
