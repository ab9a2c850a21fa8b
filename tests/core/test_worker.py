"""A real task through a real worker process, on the embedded broker and on Redis."""

import os
import subprocess
import sys
import uuid

import pytest
import redis

REDIS_URL = os.environ.get("MAILHERD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

SEND = """
import django, sys
django.setup()
from mailherd.core.tasks import echo_task
print(echo_task.delay(sys.argv[1]).get(timeout=60))
"""


SEND_TIMED = """
import django, statistics, sys, time
django.setup()
from mailherd.core.tasks import echo_task
echo_task.delay("warm").get(timeout=60, interval=0.01)
waits = []
for n in range(6):
    started = time.monotonic()
    echo_task.delay(str(n)).get(timeout=60, interval=0.01)
    waits.append(time.monotonic() - started)
print(statistics.median(waits))
"""


def _environment(tmp_path, broker_url: str | None) -> dict:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CELERY_")}
    environment.update(MAILHERD_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="mailherd.settings")
    environment.pop("DATABASE_URL", None)  # the echo task needs no database
    if broker_url:
        environment["CELERY_BROKER_URL"] = broker_url
    return environment


def _round_trip(tmp_path, broker_url: str | None, send: str = SEND) -> str:
    environment = _environment(tmp_path, broker_url)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "mailherd", "worker", "--pool", "solo", "--loglevel", "WARNING"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        token = uuid.uuid4().hex
        sent = subprocess.run(
            [sys.executable, "-c", send, token], env=environment, capture_output=True, text=True, timeout=90
        )
        assert sent.returncode == 0, sent.stderr
        return token, sent.stdout.strip()
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.slow
def test_a_task_round_trips_through_a_worker_on_the_embedded_broker(tmp_path):
    token, answer = _round_trip(tmp_path, None)
    assert answer == token
    assert (tmp_path / "celery" / "queue").is_dir()


@pytest.mark.slow
def test_an_idle_worker_on_the_embedded_broker_takes_a_task_within_a_fraction_of_a_second(tmp_path):
    """It looked once a second: a mailbox created in the portal waited up to a second for it."""
    _token, median = _round_trip(tmp_path, None, SEND_TIMED)
    assert float(median) < 0.3, median


@pytest.mark.slow
def test_a_task_round_trips_through_a_worker_on_redis(tmp_path):
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    token, answer = _round_trip(tmp_path, REDIS_URL)
    assert answer == token
