"""Run the Mailcow simulator: standalone (``serve``) or inside tests.

- ``build_app(...)`` returns the Starlette app (API + ``/_sim/`` control).
- ``serve(host, port, api_keys, read_only_keys)`` blocks running uvicorn;
  ``mailherd mailcow_sim`` and ``python -m mailherd.mailcow.sim.server`` use it.
- ``SimulatorThread`` runs the app in this process on a free port of
  127.0.0.1 (a context manager), exposing ``.url`` and ``.state``.
- ``SimulatorHandle`` drives any running simulator through ``/_sim/``
  (reset, faults, latency, request counters, usage, keys).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from .api import KeyRing, MailcowApi
from .control import SimControl, control_routes
from .dkim import SHARED_POOL
from .state import DEFAULT_HOSTNAME, DEFAULT_VERSION, SimState
from .web import web_routes

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
DEFAULT_API_KEY = "SIM-RW-KEY-0000-0000"
DEFAULT_READ_ONLY_KEY = "SIM-RO-KEY-0000-0000"


def build_app(
    *,
    api_keys: Sequence[str] = (DEFAULT_API_KEY,),
    read_only_keys: Sequence[str] = (),
    hostname: str = DEFAULT_HOSTNAME,
    version: str | None = DEFAULT_VERSION,
    state: SimState | None = None,
) -> Starlette:
    """Return the simulator app; its ``app.state.sim`` holds state/control/keys."""
    sim_state = state or SimState(hostname=hostname, version=version)
    control = SimControl()
    keys = KeyRing(api_keys, read_only_keys)
    api = MailcowApi(sim_state, control, keys)
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
    routes = [
        *control_routes(sim_state, control, keys),
        Route("/api/v1/{query:path}", api.endpoint, methods=methods),
        *web_routes(sim_state),  # the browser side of single sign-on
    ]
    app = Starlette(routes=routes)
    app.state.sim_state = sim_state
    app.state.sim_control = control
    app.state.sim_keys = keys
    return app


def _config(app: Starlette, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        # Tests and benchmarks open many connections; never refuse them.
        backlog=2048,
    )


def listen(host: str, port: int) -> socket.socket:
    """Bind a listening socket; port 0 picks a free one.

    TCP_NODELAY is set on the listening socket (accepted sockets inherit it):
    uvicorn writes headers and body separately, and without it Nagle's
    algorithm meets the client's delayed ACK, adding ~40 ms to every answer.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    api_keys: Sequence[str] = (DEFAULT_API_KEY,),
    read_only_keys: Sequence[str] = (),
    *,
    hostname: str = DEFAULT_HOSTNAME,
    log_level: str = "warning",
    state_file: str | None = None,
) -> None:
    """Serve the simulator until interrupted (blocking). Binds 127.0.0.1 by default.

    With `state_file`, the state is read from it at start and kept in it (see persist.py).
    """
    SHARED_POOL.warm(2048)
    app = build_app(api_keys=api_keys, read_only_keys=read_only_keys, hostname=hostname)
    saver = None
    if state_file:
        from .persist import StateFile

        saver = StateFile(app.state.sim_state, state_file).start()
    sock = listen(host, port)
    _SavingServer(_config(app, host, port, log_level), saver).run(sockets=[sock])


class _SavingServer(uvicorn.Server):
    """Saves the state file on a graceful stop (uvicorn re-raises SIGTERM once it has stopped)."""

    def __init__(self, config: uvicorn.Config, saver) -> None:
        super().__init__(config)
        self.saver = saver

    async def shutdown(self, sockets=None) -> None:
        await super().shutdown(sockets)
        if self.saver is not None:
            self.saver.stop()


class SimulatorThread:
    """The simulator on a real, free 127.0.0.1 port, in a background thread.

    >>> with SimulatorThread() as sim:          # doctest: +SKIP
    ...     MailcowClient(sim.url, sim.api_key).get_version()
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        read_only_key: str | None = DEFAULT_READ_ONLY_KEY,
        hostname: str = DEFAULT_HOSTNAME,
        version: str | None = DEFAULT_VERSION,
        log_level: str = "warning",
    ) -> None:
        self.api_key = api_key
        self.read_only_key = read_only_key
        self.app = build_app(
            api_keys=(api_key,),
            read_only_keys=(read_only_key,) if read_only_key else (),
            hostname=hostname,
            version=version,
        )
        self.state: SimState = self.app.state.sim_state
        self._socket = listen(DEFAULT_HOST, 0)
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://{DEFAULT_HOST}:{self.port}"
        self._server = uvicorn.Server(_config(self.app, DEFAULT_HOST, self.port, log_level))
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> SimulatorThread:
        """Start serving; return once the port accepts connections."""
        SHARED_POOL.warm(2048)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._socket])),
            name=f"mailcow-sim-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("Mailcow simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and close the port."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()

    def handle(self) -> SimulatorHandle:
        """Return a control handle for this simulator."""
        return SimulatorHandle(self.url, self.api_key, self.read_only_key, state=self.state)

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class SimulatorHandle:
    """Drive a running simulator through its ``/_sim/`` control plane.

    Works for in-process (``SimulatorThread``) and separate-process
    simulators alike. ``state`` is the in-process SimState when available.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        read_only_key: str | None = None,
        *,
        state: SimState | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.read_only_key = read_only_key
        self.state = state
        self._http = httpx.Client(base_url=self.url, timeout=10.0, trust_env=False)

    def __repr__(self) -> str:
        return f"SimulatorHandle({self.url!r})"

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = self._http.request(method, path, json=json)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Forget all objects, faults, latency and request counters."""
        self._call("POST", "/_sim/reset")

    def requests(self) -> dict[str, int]:
        """Return request counts per ``action/category`` (e.g. ``{"add/domain": 2}``)."""
        return self._call("GET", "/_sim/requests")["by_route"]

    def request_count(self) -> int:
        """Return the number of API requests received since the last reset."""
        return int(self._call("GET", "/_sim/requests")["total"])

    def request_log(self) -> list[dict[str, Any]]:
        """Return the last requests: method, path, action, category, status, body."""
        return self._call("GET", "/_sim/requests")["log"]

    def clear_requests(self) -> None:
        self._call("DELETE", "/_sim/requests")

    def set_fault(
        self,
        mode: str,
        *,
        count: int | None = None,
        scope: str = "all",
        status: int = 500,
        retry_after: float | None = None,
        ms: int = 0,
        message: str = "redis",
    ) -> None:
        """Inject a fault: ``down``, ``drop``, ``http``, ``error_in_200`` or ``slow``
        (see ``control.py``) for ``count`` requests (None = until cleared)."""
        body = {
            "mode": mode,
            "count": count,
            "scope": scope,
            "status": status,
            "ms": ms,
            "message": message,
        }
        if retry_after is not None:
            body["retry_after"] = retry_after
        self._call("POST", "/_sim/fault", body)

    def clear_faults(self) -> None:
        self._call("DELETE", "/_sim/fault")

    def set_latency(self, ms: int) -> None:
        """Delay every API answer by ``ms`` milliseconds."""
        self._call("POST", "/_sim/latency", {"ms": ms})

    def set_usage(
        self, mailbox: str, *, quota_used: int | None = None, messages: int | None = None
    ) -> None:
        """Set a mailbox's used bytes and message count (what Dovecot reports)."""
        self._call(
            "POST",
            "/_sim/usage",
            {"mailbox": mailbox, "quota_used": quota_used, "messages": messages},
        )

    def add_key(
        self,
        key: str,
        *,
        access: str = "rw",
        active: bool = True,
        allow_from: list[str] | None = None,
    ) -> None:
        """Add an API key (``allow_from``: IPs/CIDRs allowed to use it)."""
        self._call(
            "POST",
            "/_sim/keys",
            {"key": key, "access": access, "active": active, "allow_from": allow_from},
        )

    def add_quarantine_item(self, *, rcpt: str, **fields: Any) -> int:
        """Quarantine a message for ``rcpt``; return its id."""
        return int(self._call("POST", "/_sim/quarantine", {"rcpt": rcpt, **fields})["id"])

    def login(self, username: str, password: str) -> bool:
        """Would Dovecot accept this IMAP login (password checked against the stored hash)?"""
        return bool(
            self._call("POST", "/_sim/login", {"username": username, "password": password})["ok"]
        )

    def summary(self) -> dict[str, Any]:
        """Return domains, mailboxes, aliases, DKIM domains and released items."""
        return self._call("GET", "/_sim/state")

    def close(self) -> None:
        self._http.close()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m mailherd.mailcow.sim.server [--host] [--port] [--api-key]``."""
    parser = argparse.ArgumentParser(description="Mailcow API simulator")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--api-key", action="append", dest="api_keys")
    parser.add_argument("--read-only-key", action="append", dest="read_only_keys")
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.api_keys or (DEFAULT_API_KEY,), args.read_only_keys or ())


if __name__ == "__main__":
    main()
