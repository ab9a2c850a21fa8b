"""`mailherd run` stops within 5 s, takes its processes with it when killed, and names a taken port."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.core.test_run import free_port, wait_for_http


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (children, their pools and threads' processes)."""
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
            found.add(int(child))
            todo.append(int(child))
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "zombie" not in status.lower()


def _environment(var_dir) -> dict:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CELERY_")}
    environment.update(MAILHERD_VAR_DIR=str(var_dir))
    environment.pop("DATABASE_URL", None)
    return environment


def _start(var_dir, port: int) -> tuple[subprocess.Popen, set[int]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mailherd",
            "run",
            "--port",
            str(port),
            "--web-workers",
            "1",
            "--mcp-port",
            str(free_port()),
        ],
        env=_environment(var_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/", timeout=300).status_code == 200
    except AssertionError:
        process.kill()
        raise AssertionError(process.communicate(timeout=10)[0]) from None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the worker's pool and gunicorn's worker are up
        descendants = _descendants(process.pid)
        if len(descendants) >= 6:
            break
        time.sleep(0.5)
    _wait_for_the_scheduler(var_dir, deadline)
    return process, descendants


def _wait_for_the_scheduler(var_dir, deadline) -> None:
    """The scheduler has written its schedule (a stop during its start-up is another test)."""
    import sqlite3

    from mailherd.schedule import CELERY_BEAT_SCHEDULE

    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(Path(var_dir) / "mailherd.sqlite3", timeout=5) as db:
                (count,) = db.execute("select count(*) from django_celery_beat_periodictask").fetchone()
            if count >= len(CELERY_BEAT_SCHEDULE):
                return
        except sqlite3.Error:
            pass
        time.sleep(0.5)


@pytest.mark.slow
def test_sigterm_stops_everything_within_5_seconds(tmp_path):
    port = free_port()
    process, descendants = _start(tmp_path, port)
    try:
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        elapsed = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
    assert "mailherd: stopped" in output
    assert elapsed < 5, f"stopping took {elapsed:.1f} s"
    assert not [pid for pid in descendants if _alive(pid)]
    assert "Traceback" not in output and "ERROR" not in output, output


@pytest.mark.slow
def test_when_the_supervisor_is_killed_its_processes_die_with_it(tmp_path):
    """SIGKILL or the out-of-memory killer: no worker lives on, still consuming the outbox."""
    process, descendants = _start(tmp_path, free_port())
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and [pid for pid in descendants if _alive(pid)]:
        time.sleep(0.2)
    left = [pid for pid in descendants if _alive(pid)]
    for pid in left:  # do not leave them running for the next test
        os.kill(pid, signal.SIGKILL)
    assert not left, "orphans: " + ", ".join(
        Path(f"/proc/{pid}/cmdline").read_text() for pid in left
    )


def test_a_taken_port_is_named_without_a_traceback(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "mailherd", "run", "--port", str(port)],
            env=_environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
