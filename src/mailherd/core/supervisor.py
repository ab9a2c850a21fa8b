"""Run the web server, a Celery worker and the scheduler as one process group.

Ctrl-C (SIGINT) or SIGTERM stops all of them; if one dies, the others are
stopped too and the exit code says so.
"""

import os
import signal
import subprocess
import sys
import time

STOP_GRACE_SECONDS = 10


def _commands(host: str, port: int, web_workers: int) -> dict[str, list[str]]:
    python = sys.executable
    # Quiet by default: a line per request from the web server, warnings from the rest.
    level = os.environ.get("MAILHERD_LOG_LEVEL", "WARNING")
    return {
        "web": [
            python,
            "-m",
            "gunicorn",
            "mailherd.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(web_workers),
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
        ],
        "worker": [
            python,
            "-m",
            "celery",
            "--quiet",
            "-A",
            "mailherd",
            "worker",
            "--loglevel",
            level,
            "--concurrency",
            "2",
        ],
        "scheduler": [
            python,
            "-m",
            "celery",
            "--quiet",
            "-A",
            "mailherd",
            "beat",
            "--loglevel",
            level,
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
        ],
    }


def run_process_group(
    *, host: str, port: int, web_workers: int = 2, extra: dict[str, list[str]] | None = None
) -> int:
    commands = {**_commands(host, port, web_workers), **(extra or {})}
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def _stop(signum=None, frame=None):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name, command in commands.items():
        # Own process group per child, so a terminal Ctrl-C reaches only us and we stop them in order.
        children[name] = subprocess.Popen(command, env=env, start_new_session=True)
    print(
        f"mailherd: serving on http://{host}:{port}/ (web, worker, scheduler). Ctrl-C to stop.",
        flush=True,
    )

    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(
                    f"mailherd: {name} exited with {child.returncode}; stopping the rest",
                    file=sys.stderr,
                )
                exit_code = child.returncode or 1
                stopping = True
                break
        time.sleep(0.2)

    # SIGTERM to each main process only: it stops its own pool (a signal to the whole group
    # kills the pool first and the worker logs an ERROR per pool process).
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        try:  # anything left in its group (a pool process that outlived its parent)
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    print("mailherd: stopped", flush=True)
    return exit_code
