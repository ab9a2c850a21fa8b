"""`mailherd run` serves web, worker and scheduler as one group, and Ctrl-C stops all of them."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def _children(pid: int) -> list[int]:
    result = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(line) for line in result.stdout.split()]


@pytest.mark.slow
def test_run_serves_the_app_and_ctrl_c_stops_every_process(tmp_path):
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CELERY_")}
    environment.update(MAILHERD_VAR_DIR=str(tmp_path))
    environment.pop("DATABASE_URL", None)  # the embedded default, as on a fresh machine
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
        landing = wait_for_http(f"http://127.0.0.1:{port}/")
        assert landing.status_code == 200
        assert "Starter" in landing.text  # plans seeded by the migration
        css = httpx.get(f"http://127.0.0.1:{port}/static/mailherd/app.css", timeout=5)
        assert css.status_code == 200
        children = _children(process.pid)
        assert len(children) == 4  # web, worker, scheduler, MCP server
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "mailherd: stopped" in output
    for pid in children:
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()
    assert (tmp_path / "mailherd.sqlite3").exists()
