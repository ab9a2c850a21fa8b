"""Benchmark: mail-rule matching in messages/s with 100 rules per mailbox, and the time from a
message's arrival in Dovecot to its task with 1,000 watched mailboxes (median and 99th percentile).

Phase 1 runs the watcher's rule evaluation (`rules.services._evaluate`: the conditions of 100
rules, in priority order, with stop) over --messages varied messages. Phase 2 starts Debian's
Dovecot on loopback, watches --mailboxes mailboxes (one domain rule: subject contains "bench" →
task) with one `Watcher` process (one asyncio loop, IDLE per mailbox), waits until every mailbox
is idling, then delivers --deliveries messages over LMTP to random mailboxes, one every
--interval seconds, and measures delivery → task row.

    .venv/bin/python bench/rules.py [--messages 5000] [--mailboxes 1000] [--deliveries 200]
    .venv/bin/python bench/rules.py --smoke

Embedded default: a fresh SQLite database in a temporary directory (or DATABASE_URL if set).
The watcher's app passwords are set directly (the outbox path to Mailcow is tested elsewhere).
"""

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]
VAR = tempfile.mkdtemp(prefix="mailherd-bench-rules-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailherd.settings")
os.environ["MAILHERD_VAR_DIR"] = VAR
os.environ.setdefault("MAILHERD_BCRYPT_COST", "4")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from mailherd.imapwatch.message import IncomingMessage  # noqa: E402
from mailherd.rules.models import Rule  # noqa: E402
from mailherd.rules.services import _evaluate  # noqa: E402

WORDS = [
    "invoice",
    "order",
    "meeting",
    "lunch",
    "report",
    "urgent",
    "newsletter",
    "offer",
    "contract",
    "payment",
]


def raw_message(n: int, *, to: str = "ann@acme.test", subject: str | None = None) -> bytes:
    rng = random.Random(n)
    subject = subject or " ".join(rng.choice(WORDS) for _ in range(4)) + f" {n}"
    sender = f"{rng.choice(WORDS)}@{rng.choice(['supplier', 'client', 'partner'])}.test"
    body = " ".join(rng.choice(WORDS) for _ in range(200))
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <bench-{n}@x>\r\n"
        f"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nList-Id: <list{n % 7}.example>\r\n\r\n{body}\r\n"
    ).encode()


def hundred_rules() -> list[Rule]:
    rules = []
    fields = ["subject", "from", "to", "body", "header:List-Id"]
    ops = ["contains", "is", "starts_with", "regex"]
    for i in range(100):
        field, op = fields[i % len(fields)], ops[i % len(ops)]
        value = f"{WORDS[i % len(WORDS)]}-{i}" if op != "regex" else rf"\b{WORDS[i % 10]}{i}\b"
        conditions = [{"field": field, "op": op, "value": value}]
        if i % 3 == 0:
            conditions.append({"field": "size", "op": "above", "value": 100_000 + i})
        rule = Rule(pk=i + 1, name=f"rule {i}", match="all" if i % 2 else "any",
                    conditions=conditions, actions=[{"type": "task"}], priority=i)  # fmt: skip
        rules.append(rule)
    return rules


def phase_matching(count: int) -> float:
    rules = hundred_rules()
    messages = []
    for n in range(count):
        m = IncomingMessage(mailbox=None, folder="INBOX", uid=n, uidvalidity=1, raw=raw_message(n))
        _ = m.parsed, m.text  # parsed once, as the watcher hands it over
        messages.append(m)
    started = time.perf_counter()
    for m in messages:
        _evaluate(rules, m)
    return count / (time.perf_counter() - started)


def _inotify_instances() -> int:
    try:
        return int(Path("/proc/sys/fs/inotify/max_user_instances").read_text())
    except (OSError, ValueError):
        return 1 << 30


def phase_watch(mailboxes: int, deliveries: int, interval: float) -> dict | None:
    if not Path("/usr/sbin/dovecot").exists():
        print("Dovecot not installed: phase 2 skipped")
        return None
    from django.utils import timezone

    import tests.support.dovecot as dovecot_support
    from mailherd.core.actors import Actor
    from mailherd.hosting.models import Domain, Mailbox
    from mailherd.imapwatch.engine import Watcher
    from mailherd.imapwatch.models import FolderState, WatchedMailbox
    from mailherd.imapwatch.services import watch_refresh
    from mailherd.mailcow.models import MailServer
    from mailherd.plans.models import Plan
    from mailherd.rules.models import Task
    from mailherd.rules.services import rule_create
    from tests.conftest import make_org, make_user
    from tests.support.dovecot import Dovecot

    # Dovecot learns of new mail by inotify, one instance per IMAP process; past the kernel's
    # fs.inotify.max_user_instances (128 here) it falls back to looking every
    # mailbox_idle_check_interval (30 s by default). Raise the limit on a mail server; here,
    # without root, check every second instead.
    idle_check = _inotify_instances() < mailboxes + 50
    if idle_check and "mailbox_idle_check_interval" not in dovecot_support.CONFIG:
        dovecot_support.CONFIG += "mailbox_idle_check_interval = 1 secs\n"
    directory = Path(tempfile.mkdtemp(prefix="mailherd-bench-dovecot-"))
    os.chmod(directory, 0o755)
    dovecot = Dovecot(directory).start()
    try:
        server = MailServer.objects.create(
            name="bench", api_url="http://127.0.0.1:9", api_key="k", hostname="mail.bench.test",
            imap_host="127.0.0.1", imap_port=dovecot.imap_port,
        )  # fmt: skip
        owner = make_user("owner@acme.test")
        org = make_org(owner, "Acme", plan="enterprise")
        Plan.objects.filter(pk=org.plan_id).update(max_mail_rules=1000)
        domain = Domain.objects.create(
            organization=org, name="acme.test", status="active", verification_token="t",
            verified_at=timezone.now(), mail_server=server,
        )  # fmt: skip
        Mailbox.objects.bulk_create(
            Mailbox(organization=org, domain=domain, local_part=f"u{n}",
                    address=f"u{n}@acme.test", quota_mb=100, sync_status="active")
            for n in range(mailboxes)
        )  # fmt: skip
        rule_create(actor=Actor.system(), organization=org, domain="acme.test", name="Bench",
                    conditions=[{"field": "subject", "op": "contains", "value": "bench"}],
                    actions=[{"type": "task"}])  # fmt: skip
        watch_refresh()
        WatchedMailbox.objects.update(credential_status="active")
        for item in WatchedMailbox.objects.select_related("mailbox"):
            dovecot.users[item.mailbox.address] = "{PLAIN}" + item.app_password
        dovecot._write_users()

        holder: dict = {}

        def run():
            import asyncio

            async def main():
                holder["loop"] = asyncio.get_running_loop()
                holder["watcher"] = Watcher(capacity=5000, poll_seconds=600)
                await holder["watcher"].run()

            asyncio.run(main())

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        started = time.monotonic()
        while FolderState.objects.filter(folder="INBOX").count() < mailboxes:
            if time.monotonic() - started > 300:
                raise RuntimeError("the watcher did not reach every mailbox in 5 minutes")
            time.sleep(0.5)
        connect_seconds = time.monotonic() - started
        time.sleep(3)  # every mailbox back in IDLE (and hibernated)
        sent: dict[str, float] = {}
        rng = random.Random(7)
        for n in range(deliveries):
            address = f"u{rng.randrange(mailboxes)}@acme.test"
            sent[f"<bench-{n}@x>"] = time.time()
            dovecot.deliver(address, raw_message(n, to=address, subject=f"bench {n}"))
            time.sleep(interval)
        deadline = time.monotonic() + 60
        while Task.objects.count() < deliveries and time.monotonic() < deadline:
            time.sleep(0.2)
        latencies = sorted(
            t.created_at.timestamp() - sent[t.message_key]
            for t in Task.objects.only("created_at", "message_key")
        )
        holder["loop"].call_soon_threadsafe(holder["watcher"].stop)
        thread.join(timeout=60)
        return {
            "idle_check": idle_check,
            "mailboxes": mailboxes,
            "connect_seconds": connect_seconds,
            "tasks": len(latencies),
            "median": statistics.median(latencies) if latencies else float("nan"),
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            if latencies
            else float("nan"),
        }
    finally:
        dovecot.stop()
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--mailboxes", type=int, default=1000)
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    args = parser.parse_args()
    if args.smoke:
        args.messages, args.mailboxes, args.deliveries = 200, 5, 10
    call_command("migrate", verbosity=0)
    rate = phase_matching(args.messages)
    print(f"matching: {rate:,.0f} messages/s against 100 rules ({args.messages} messages)")
    result = phase_watch(args.mailboxes, args.deliveries, args.interval)
    if result:
        print(
            f"watch: {result['mailboxes']} mailboxes connected and idling in "
            f"{result['connect_seconds']:.1f} s; {result['tasks']} tasks, arrival → task median "
            f"{result['median'] * 1000:.0f} ms, p99 {result['p99'] * 1000:.0f} ms"
            + (
                " (Dovecot checking every second: inotify instances too few)"
                if result["idle_check"]
                else ""
            )
        )
    shutil.rmtree(VAR, ignore_errors=True)


if __name__ == "__main__":
    main()
