"""SQLite as the embedded default: several processes write at once and nobody sees "database is locked"."""

import os
import subprocess
import sys
import threading
import time

import pytest
from django.db.utils import ConnectionHandler

from mailherd.core.env import env_database


@pytest.fixture
def handler(tmp_path, monkeypatch, django_db_blocker):
    """Connections to a fresh embedded-default database file, configured as `mailherd run` does."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = env_database("DATABASE_URL", tmp_path / "mailherd.sqlite3")
    with django_db_blocker.unblock():
        yield ConnectionHandler({"default": config, "bench": config})


def test_a_write_does_not_wait_for_a_long_read(handler):
    """WAL: a worker reading for a while (a list, a reconcile pass) never holds up a customer's write."""
    setup = handler["bench"]
    with setup.cursor() as cursor:
        cursor.execute("CREATE TABLE t (n integer)")
        cursor.execute("INSERT INTO t VALUES (1)")
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 30_000  # writers wait for the lock rather than fail
    setup.close()
    reading, done = threading.Event(), threading.Event()

    def long_read():
        connection = handler["bench"]
        # a plain read transaction, as a long SELECT keeps one open
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
            cursor.execute("SELECT count(*) FROM t")
            cursor.fetchone()
            reading.set()
            done.wait(5)
            cursor.execute("COMMIT")
        connection.close()

    reader = threading.Thread(target=long_read)
    reader.start()
    try:
        assert reading.wait(10)
        writer = handler["bench"]
        started = time.monotonic()
        writer.set_autocommit(False)  # BEGIN IMMEDIATE, as transaction.atomic() starts one
        with writer.cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES (2)")
        writer.commit()
        elapsed = time.monotonic() - started
        writer.close()
    finally:
        done.set()
        reader.join()
    assert elapsed < 1.5, f"the write waited {elapsed:.1f} s for a reader"


WRITER = """
import sys, time
import django
django.setup()
from django.db import connection, transaction
for number in range(int(sys.argv[1])):
    # read, then write in one transaction: the pattern of every limit check
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT coalesce(max(n), 0) FROM t")
            top = cursor.fetchone()[0]
            cursor.execute("INSERT INTO t (n, who) VALUES (%s, %s)", [top + 1, sys.argv[2]])
        if number % 10 == 0:
            time.sleep(0.05)  # now and then a slower transaction holds the lock a while
print("ok")
"""


def test_many_processes_write_at_once_without_database_is_locked(tmp_path, handler):
    with handler["bench"].cursor() as cursor:
        cursor.execute("CREATE TABLE t (n integer, who text)")
    handler["bench"].close()
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    environment.update(MAILHERD_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="mailherd.settings")
    per_process, processes = 60, 6
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(per_process), f"p{n}"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(processes)
    ]
    results = [writer.communicate(timeout=180) for writer in writers]
    for writer, (out, err) in zip(writers, results, strict=True):
        assert "database is locked" not in err
        assert writer.returncode == 0 and out.strip() == "ok", err[-2000:]
    with handler["bench"].cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT n) FROM t")
        assert cursor.fetchone() == (per_process * processes, per_process * processes)
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
    handler["bench"].close()
