"""Benchmark: the dunning sweep's cost follows the due subscriptions, not the table size.

Times `mailherd.billing.dunning.dunning_sweep` (the whole sweep: select the due
rows through the partial index `billing_sub_dunning_due`, claim each with a
conditional UPDATE, then run its step: notice + email + next date) over

  - 100,000 subscriptions of which 100 are due, then
  - 1,000,000 subscriptions with the same 100 due,

and prints both times, their ratio and the SQL queries each sweep ran.

The 100 due subscriptions are past due, 3 days and 1 hour into an episode,
with the day-1 and day-3 retries already done and the "payment failed" email
already sent: the step that is due is the day-3 "reminder" email (rendered and
sent through Django's locmem backend to each organization's owner, logged in
the notification log) and the next date. So the timed sweep makes no Stripe
call; Stripe is pointed at the discard port 127.0.0.1:9 anyway, so a stray call
would fail at once instead of leaving the machine. Of the rows that are not
due, 99% are plain active subscriptions (`next_dunning_at` NULL) and 1% are in
an episode whose next step is in the future, so the partial index grows with
the table too.

Before each timed run the 100 due rows are put back as they were (notice and
log rows deleted, `next_dunning_at` in the past again), so every run does the
same work (after one untimed warm-up sweep). PostgreSQL only: DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/mh_dunning_bench) names a database that is
created, migrated and dropped by this script. Rows are loaded with COPY.

    python bench/dunning.py [--small 100000] [--large 1000000] [--due 100] [--repeat 5]
"""

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/mh_dunning_bench"
TIME_LIMIT = 1800  # seconds, the whole run (loading 1,000,000 rows included)
FUTURE_SHARE = 100  # one non-due row in this many is in an episode whose next step is ahead


def admin_connect(url: str):
    """A psycopg connection to the server's `postgres` database, and the bench database's name."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in {"postgres", "postgresql"} or not name:
        sys.exit("DATABASE_URL must be postgres://user@host:port/dbname")
    if parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        sys.exit("this benchmark runs against a loopback PostgreSQL only")
    admin = urlunsplit(parts._replace(path="/postgres"))
    return psycopg.connect(admin, autocommit=True), name


def database_recreate(url: str) -> None:
    from psycopg import sql

    conn, name = admin_connect(url)
    with conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_drop(url: str) -> None:
    from psycopg import sql

    conn, name = admin_connect(url)
    with conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


class Loader:
    """Bulk-load organizations and their subscriptions with COPY, through Django's connection."""

    def __init__(self, now: datetime):
        from mailherd.billing.models import Subscription
        from mailherd.plans.models import Plan
        from mailherd.tenancy.models import Organization

        self.now = now
        self.plan_id = Plan.objects.order_by("pk").values_list("pk", flat=True).first()
        self.org_table = Organization._meta.db_table
        self.sub_table = Subscription._meta.db_table
        self.count = 0  # organizations (and subscriptions) loaded so far

    def _copy(self, model, rows) -> None:
        """COPY dicts of field values into the model's table; other columns take their defaults.

        Columns come from the model, so a column added later gets its default instead of
        breaking the load (the reason this bench once crashed).
        """
        from django.db import connection

        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        columns_sql = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        defaults = {f.attname: f.get_default() for f in fields}
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f"COPY {model._meta.db_table} ({columns_sql}) FROM STDIN") as copy:
                for row in rows:
                    values = {**defaults, **row}
                    copy.write_row(
                        [f.get_db_prep_save(values[f.attname], connection) for f in fields]
                    )

    def organizations(self, first: int, last: int) -> list[int]:
        """Insert organizations number first..last-1; return their ids in that order."""
        from django.db import connection

        from mailherd.tenancy.models import Organization

        now = self.now
        self._copy(
            Organization,
            (
                {
                    "name": f"Bench {n}",
                    "slug": f"bench-{n}",
                    "plan_id": self.plan_id,
                    "status": "active",
                    "created_at": now,
                }
                for n in range(first, last)
            ),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {self.org_table} WHERE slug LIKE 'bench-%%' ORDER BY id OFFSET %s",
                [first],
            )
            return [row[0] for row in cursor.fetchall()]

    def subscriptions(self, organization_ids: list[int], first: int, *, due: int) -> None:
        """One subscription per organization; the first `due` of the whole table are due."""
        from mailherd.billing.models import Subscription

        now = self.now
        started_due = now - timedelta(days=3, hours=1)
        started_later = now - timedelta(days=1, hours=1)
        period_end = now + timedelta(days=20)

        def rows():
            for offset, org_id in enumerate(organization_ids):
                n = first + offset
                row = {
                    "organization_id": org_id,
                    "stripe_customer_id": f"cus_b{n}",
                    "stripe_subscription_id": f"sub_b{n}",
                    "plan_id": self.plan_id,
                    "status": "active",
                    "cancel_at_period_end": False,
                    "current_period_end": period_end,
                    "trial_used": False,
                    "stripe_payment_method_id": f"pm_b{n}",
                    "card_brand": "visa",
                    "card_last4": "4242",
                    "suspended_by_billing": False,
                    "created_at": now,
                    "updated_at": now,
                }
                if n < due:  # due: past due, the reminder is what is due now
                    row.update(
                        status="past_due",
                        card_last4="0341",
                        dunning_started_at=started_due,
                        dunning_retries=2,
                        next_dunning_at=now - timedelta(minutes=60 - n % 60),
                        last_payment_error="Your card was declined.",
                    )
                elif n % FUTURE_SHARE == 0:  # in an episode, next step ahead: not due
                    row.update(
                        status="past_due",
                        card_last4="0341",
                        dunning_started_at=started_later,
                        dunning_retries=1,
                        next_dunning_at=now + timedelta(days=2) - timedelta(hours=1),
                        last_payment_error="Your card was declined.",
                    )
                yield row  # else paid up: not in the partial index at all

        self._copy(Subscription, rows())

    def grow_to(self, total: int, *, due: int) -> float:
        """Load rows up to `total`; return the seconds it took (ANALYZE included)."""
        from django.db import connection, transaction

        started = time.perf_counter()
        chunk = 100_000
        while self.count < total:
            last = min(total, self.count + chunk)
            with transaction.atomic():
                ids = self.organizations(self.count, last)
                self.subscriptions(ids, self.count, due=due)
            self.count = last
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {self.org_table}")
            cursor.execute(f"ANALYZE {self.sub_table}")
        return time.perf_counter() - started


def owners_add(due_ids: list[int]) -> None:
    """Give each due organization an owner, so the reminder is really rendered and sent."""
    from mailherd.tenancy.models import Membership, Role, User

    users = User.objects.bulk_create(
        [User(email=f"owner{n}@bench.test", password="!") for n in range(len(due_ids))]
    )
    Membership.objects.bulk_create(
        [
            Membership(organization_id=org_id, user=user, role=Role.OWNER)
            for org_id, user in zip(due_ids, users, strict=True)
        ]
    )


def due_reset(*, due_sub_ids: list[int], now: datetime) -> None:
    """Put the due subscriptions back as they were before a sweep."""
    from django.core import mail

    from mailherd.billing.models import DunningNotice, Subscription
    from mailherd.notifications.models import NotificationLog

    DunningNotice.objects.filter(subscription_id__in=due_sub_ids).exclude(
        kind="billing_payment_failed"
    ).delete()
    NotificationLog.objects.all().delete()
    for index, pk in enumerate(due_sub_ids):
        Subscription.objects.filter(pk=pk).update(
            next_dunning_at=now - timedelta(minutes=60 - index % 60)
        )
    mail.outbox = []


def measure(*, total: int, due_sub_ids: list[int], now: datetime, repeat: int) -> dict:
    from django.core import mail
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mailherd.billing.dunning import dunning_sweep
    from mailherd.billing.models import Subscription

    due_reset(due_sub_ids=due_sub_ids, now=now)
    dunning_sweep(now=now)  # warm-up, not timed: templates compiled, caches filled
    times = []
    for _ in range(repeat):
        due_reset(due_sub_ids=due_sub_ids, now=now)
        started = time.perf_counter()
        done = dunning_sweep(now=now)
        times.append(time.perf_counter() - started)
        assert done == len(due_sub_ids), f"swept {done}, expected {len(due_sub_ids)}"
        assert len(mail.outbox) == len(due_sub_ids), f"{len(mail.outbox)} emails sent"

    due_reset(due_sub_ids=due_sub_ids, now=now)
    with CaptureQueriesContext(connection) as captured:
        done = dunning_sweep(now=now)
    assert done == len(due_sub_ids)
    assert not Subscription.objects.filter(next_dunning_at__lte=now).exists()

    # the selection on its own, and how PostgreSQL runs it
    select = (
        Subscription.objects.filter(next_dunning_at__lte=now)
        .order_by("next_dunning_at")
        .values_list("pk", flat=True)[:500]
    )
    due_reset(due_sub_ids=due_sub_ids, now=now)
    select_times = []
    for _ in range(repeat):
        started = time.perf_counter()
        assert len(list(select.all())) == len(due_sub_ids)  # a fresh queryset: no cache
        select_times.append(time.perf_counter() - started)
    sql, params = select.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]
    return {
        "total": total,
        "median": statistics.median(times),
        "best": min(times),
        "queries": len(captured.captured_queries),
        "select_median": statistics.median(select_times),
        "plan": plan,
        "rows": Subscription.objects.count(),
    }


def report(result: dict) -> None:
    print(
        f"  {result['rows']:>9,} subscriptions: sweep median {result['median'] * 1000:8.1f} ms"
        f" (best {result['best'] * 1000:.1f} ms), {result['queries']} SQL queries;"
        f" due-row select alone {result['select_median'] * 1000:.2f} ms"
    )
    print("    plan of the due-row select: " + " / ".join(line.strip() for line in result["plan"]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves the script runs")
    args = parser.parse_args()
    if args.smoke:
        args.small, args.large, args.due, args.repeat = 300, 600, 10, 1
    if not 0 < args.due <= 500 or not args.due < args.small <= args.large:
        sys.exit("need 0 < due <= 500 (one sweep batch) and due < small <= large")

    signal.alarm(TIME_LIMIT)  # bounded: the whole run, loading included
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    var_dir = Path(tempfile.mkdtemp(prefix="mailherd-bench-dunning-"))
    os.environ.update(
        DATABASE_URL=url,
        MAILHERD_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="mailherd.settings",
        MAILHERD_LOG_LEVEL="WARNING",
        STRIPE_API_BASE="http://127.0.0.1:9",  # discard port: a stray Stripe call fails at once
    )
    os.environ.pop("EMAIL_URL", None)
    sys.path.insert(0, str(ROOT / "src"))

    database_recreate(url)
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection
        from django.utils import timezone

        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        settings.STRIPE_SECRET_KEY = "sk_test_bench"  # billing on, Stripe unreachable
        settings.STRIPE_API_BASE = "http://127.0.0.1:9"
        if connection.vendor != "postgresql":
            sys.exit("this benchmark needs PostgreSQL (DATABASE_URL=postgres://...)")
        call_command("migrate", verbosity=0)

        from mailherd.billing.models import DunningNotice, Subscription

        now = timezone.now()
        loader = Loader(now)
        print(f"Dunning sweep benchmark on {connection.settings_dict['NAME']} (PostgreSQL)")
        print(
            "Timed: the whole dunning_sweep(now) — select due rows through the partial index,"
            " claim each with a conditional UPDATE, run its step (day-3 reminder email rendered"
            " and sent via the locmem backend + notification log + next date). No Stripe call"
            " is due (retries are up to date); Stripe points at 127.0.0.1:9 anyway."
        )

        seconds = loader.grow_to(args.small, due=args.due)
        due_subs = list(
            Subscription.objects.filter(next_dunning_at__lte=now)
            .order_by("pk")
            .values_list("pk", "organization_id", "dunning_started_at")
        )
        assert len(due_subs) == args.due, len(due_subs)
        due_sub_ids = [pk for pk, _org, _start in due_subs]
        owners_add([org for _pk, org, _start in due_subs])
        DunningNotice.objects.bulk_create(
            [
                DunningNotice(
                    subscription_id=pk, episode_started_at=start, kind="billing_payment_failed"
                )
                for pk, _org, start in due_subs
            ]
        )
        print(f"  loaded {args.small:,} organizations + subscriptions in {seconds:.1f} s")
        small = measure(total=args.small, due_sub_ids=due_sub_ids, now=now, repeat=args.repeat)
        report(small)

        seconds = loader.grow_to(args.large, due=args.due)
        print(f"  grew to {args.large:,} organizations + subscriptions in {seconds:.1f} s")
        large = measure(total=args.large, due_sub_ids=due_sub_ids, now=now, repeat=args.repeat)
        report(large)

        in_index = Subscription.objects.filter(next_dunning_at__isnull=False).count()
        print(
            f"  (rows in the partial index at {args.large:,}: {in_index:,}, of which {args.due} due)"
        )
        print(
            f"Result: {args.due} due of {args.small:,}: {small['median'] * 1000:.1f} ms;"
            f" {args.due} due of {args.large:,}: {large['median'] * 1000:.1f} ms;"
            f" ratio large/small = {large['median'] / small['median']:.2f}"
            f" (table {args.large / args.small:.0f}x larger);"
            f" queries {small['queries']} vs {large['queries']}"
        )
        connection.close()
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            database_drop(url)


if __name__ == "__main__":
    main()
