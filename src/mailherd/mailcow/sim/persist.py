"""Keep a simulator's state in a file, so a restart finds its domains and mailboxes again.

`mailherd demo` runs the simulator with ``--state-file var/demo-mailcow.state``:
without it, every restart started an empty Mailcow and each demo mailbox turned
"error". The state (plain dataclasses and dicts) is pickled to the file by a
background thread about once a second when it changed, and once more on exit;
the file is written whole and renamed into place, so it is never half written.
The file is the simulator's own (it is only ever read back by the simulator).
"""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path

from .state import SimState

# Attributes that belong to the running process, not to Mailcow's data.
_PROCESS_ONLY = {"lock", "key_pool", "hostname", "version", "_usage"}
FORMAT = 1


def state_dump(state: SimState) -> bytes:
    with state.lock:
        data = {k: v for k, v in vars(state).items() if k not in _PROCESS_ONLY}
        return pickle.dumps({"format": FORMAT, "data": data}, protocol=pickle.HIGHEST_PROTOCOL)


def state_load(state: SimState, blob: bytes) -> bool:
    """Put a dump back into `state`; False (state untouched) when the dump is of another format."""
    try:
        loaded = pickle.loads(blob)  # noqa: S301 - our own file, written by state_dump
    except Exception:  # noqa: BLE001 - a damaged file means a fresh Mailcow
        return False
    if not isinstance(loaded, dict) or loaded.get("format") != FORMAT:
        return False
    with state.lock:
        vars(state).update(loaded["data"])
        state._usage = {}  # worked out again from the loaded mailboxes
    return True


class StateFile:
    """Load `state` from `path` now; save it when it changed (every `interval` s) and on `stop()`."""

    def __init__(self, state: SimState, path: str | os.PathLike, *, interval: float = 1.0) -> None:
        self.state, self.path, self.interval = state, Path(path), interval
        self.loaded = self.path.exists() and state_load(state, self.path.read_bytes())
        self._last = state_dump(state) if self.loaded else b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sim-state-file", daemon=True)

    def start(self) -> StateFile:
        self._thread.start()
        return self

    def save(self) -> None:
        blob = state_dump(self.state)
        if blob == self._last:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_bytes(blob)
        os.replace(temporary, self.path)
        self._last = blob

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.save()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.save()
