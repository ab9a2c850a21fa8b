"""Run the web server, a Celery worker and the scheduler as one process group.

Ctrl-C (SIGINT) or SIGTERM stops all of them within STOP_SECONDS; if one dies,
the others are stopped too and the exit code says so. When the supervisor
itself dies without stopping them (SIGKILL, the out-of-memory killer), the
kernel sends each child SIGTERM (Linux: prctl PR_SET_PDEATHSIG), so no worker
lives on as an orphan still consuming the outbox.
"""

import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
import time

STOP_SECONDS = 5  # SIGTERM to everything gone
STOP_GRACE_SECONDS = 3  # after SIGTERM, what is left is killed (within STOP_SECONDS)
PR_SET_PDEATHSIG = 1


class PortTaken(Exception):
    """A port the group needs is in use; the message names it."""


def port_free(host: str, port: int) -> bool:
    """Can `host:port` be bound now (as the web server will bind it)?"""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ensure_port_free(host: str, port: int, what: str) -> None:
    if not port_free(host, port):
        raise PortTaken(
            f"port {port} on {host} is already in use (needed for {what}): stop what is "
            f"listening there, or choose another port with --port"
        )


def _die_with_parent(parent_pid: int, sig: int = signal.SIGTERM):
    """preexec_fn: the kernel sends `sig` to this child when the supervisor dies."""

    def setup() -> None:
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent_pid:  # the supervisor died before prctl took effect
            os._exit(1)

    return setup


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
            "2",  # requests in flight get 2 s to finish; the whole stop stays within STOP_SECONDS
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
        # The worker's SIGTERM waits for running tasks (a drain may take a minute); when the
        # supervisor is gone it gets SIGQUIT, Celery's cold shutdown (the outbox takes back rows
        # left half done after the stale-claim timeout). Its pool processes die with it.
        death = signal.SIGQUIT if name == "worker" else signal.SIGTERM
        children[name] = subprocess.Popen(
            command,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid(), death),
        )
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
