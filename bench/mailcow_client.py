"""Benchmark: Mailcow client requests/s against the simulator.

Starts the simulator in a separate process on 127.0.0.1 (so client and
server each have a core), then measures, in one run:

- reads (``get/mailbox/<addr>``) and mailbox creation (``add/mailbox``),
- with pooled keep-alive connections versus a new TCP connection per call
  (``max_keepalive_connections=0``) and versus a new client per call,
- plus pooled reads from 4 threads (what the simulator sustains).

Every measurement stops after ``--count`` calls or ``--seconds`` seconds,
whichever comes first. Usage::

    python bench/mailcow_client.py [--count 1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mailherd.mailcow.client import MailcowClient  # noqa: E402
from mailherd.mailcow.sim.server import serve  # noqa: E402

API_KEY = "BENCH-KEY-0001"
PASSWORD = "Bench-pass-123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("simulator did not start")


def measure(call: Callable[[int], object], count: int, seconds: float) -> tuple[int, float]:
    """Run ``call(i)`` up to ``count`` times or ``seconds``; return (calls, req/s)."""
    started = time.perf_counter()
    done = 0
    while done < count and time.perf_counter() - started < seconds:
        call(done)
        done += 1
    elapsed = time.perf_counter() - started
    return done, done / elapsed


def measure_threads(
    make: Callable[[], MailcowClient], address: str, threads: int, count: int, seconds: float
) -> float:
    client = make()
    stop_at = time.perf_counter() + seconds
    done = [0] * threads

    def work(slot: int) -> None:
        while done[slot] < count // threads and time.perf_counter() < stop_at:
            client.get_mailbox(address)
            done[slot] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    rate = sum(done) / (time.perf_counter() - started)
    client.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="max calls per measurement")
    parser.add_argument("--seconds", type=float, default=5.0, help="max seconds per measurement")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves the script runs")
    args = parser.parse_args()
    if args.smoke:
        args.count, args.seconds = 20, 1.0

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = multiprocessing.Process(
        target=serve,
        kwargs={"host": "127.0.0.1", "port": port, "api_keys": (API_KEY,)},
        daemon=True,
    )
    server.start()
    try:
        wait_for(port)
        run(url, args.count, args.seconds)
    finally:
        server.terminate()
        server.join(5)


def run(url: str, count: int, seconds: float) -> None:
    modes: dict[str, Callable[[], MailcowClient]] = {
        "pooled": lambda: MailcowClient(url, API_KEY),
        "new connection per call": lambda: MailcowClient(url, API_KEY, max_keepalive_connections=0),
    }
    setup = MailcowClient(url, API_KEY)
    setup.add_domain(
        "bench.test",
        quota_mib=100_000_000,
        max_mailbox_quota_mib=1024,
        default_mailbox_quota_mib=1,
        max_mailboxes=1_000_000,
    )
    setup.add_mailbox("reader@bench.test", password=PASSWORD, quota_mib=1)
    results: dict[tuple[str, str], tuple[int, float]] = {}
    for mode, make in modes.items():
        client = make()
        client.get_mailbox("reader@bench.test")  # warm up
        results[(mode, "read")] = measure(
            lambda i, client=client: client.get_mailbox("reader@bench.test"), count, seconds
        )
        tag = mode.split()[0]
        results[(mode, "create")] = measure(
            lambda i, client=client, tag=tag: client.add_mailbox(
                f"{tag}{i}@bench.test", password=PASSWORD, quota_mib=1
            ),
            count,
            seconds,
        )
        client.close()

    def fresh_read(i: int) -> None:
        with MailcowClient(url, API_KEY) as client:
            client.get_mailbox("reader@bench.test")

    def fresh_create(i: int) -> None:
        with MailcowClient(url, API_KEY) as client:
            client.add_mailbox(f"fresh{i}@bench.test", password=PASSWORD, quota_mib=1)

    results[("new client per call", "read")] = measure(fresh_read, count, seconds)
    results[("new client per call", "create")] = measure(fresh_create, count, seconds)
    threaded = measure_threads(modes["pooled"], "reader@bench.test", 4, count * 2, seconds)
    setup.close()

    print(f"Mailcow client vs simulator at {url} (max {count} calls / {seconds:.0f} s each)")
    print(f"{'mode':<26}{'operation':<18}{'calls':>7}{'req/s':>10}")
    for (mode, op), (calls, rate) in results.items():
        label = "get mailbox" if op == "read" else "add mailbox"
        print(f"{mode:<26}{label:<18}{calls:>7}{rate:>10.0f}")
    print(f"{'pooled, 4 threads':<26}{'get mailbox':<18}{'':>7}{threaded:>10.0f}")
    for op in ("read", "create"):
        ratio = results[("pooled", op)][1] / results[("new connection per call", op)][1]
        fresh = results[("pooled", op)][1] / results[("new client per call", op)][1]
        print(f"pooled / new connection ({op}): {ratio:.2f}x; pooled / new client: {fresh:.2f}x")


if __name__ == "__main__":
    main()
