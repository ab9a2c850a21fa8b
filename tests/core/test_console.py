"""The console stays quiet: a line per request, no Celery chatter, nothing alarming on stop."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.core.test_run import free_port, wait_for_http


@pytest.mark.slow
def test_run_prints_a_line_per_request_and_nothing_else(tmp_path):
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CELERY_")}
    environment.update(MAILHERD_VAR_DIR=str(tmp_path))
    environment.pop("DATABASE_URL", None)
    environment.pop("MAILHERD_LOG_LEVEL", None)
    process = subprocess.Popen(
        [
            sys.executable, "-m", "mailherd", "run", "--port", str(port), "--web-workers", "1",
            # its own free port: the default (web port + 1) may be another process's
            "--mcp-port", str(free_port()),
        ],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        try:
            assert wait_for_http(base + "/", timeout=300).status_code == 200
        except AssertionError:
            process.kill()
            raise AssertionError(process.communicate(timeout=10)[0]) from None
        assert httpx.get(base + "/favicon.ico", timeout=5).status_code == 301
        assert httpx.get(base + "/no-such-page/", timeout=5).status_code == 404
        time.sleep(20)  # the scheduler sends the 15-second outbox job at least once
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    lines = [line for line in output.splitlines() if line.strip()]
    for noise in (
        "Sending due task",
        "SecurityWarning",
        "superuser privileges",
        "No hostname was supplied",
        "Not Found",
        "ERROR",
        "Traceback",
        "celery@",
        "[tasks]",
    ):
        assert noise not in output, f"{noise!r} on the console:\n{output}"
    requests = [line for line in lines if '"GET ' in line]
    assert len(requests) >= 3
    # besides the request lines: the start and stop lines only
    assert len(lines) - len(requests) <= 5, output
