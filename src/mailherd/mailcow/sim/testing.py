"""Pytest fixtures for tests that need a Mailcow: the simulator or a real one.

Use them from any conftest::

    from mailherd.mailcow.sim.testing import mailcow_sim  # noqa: F401

or load the whole module as a plugin (root conftest only)::

    pytest_plugins = ["mailherd.mailcow.sim.testing"]

Fixtures:

- ``mailcow_sim`` (session): a SimulatorHandle of an in-process simulator on
  a free 127.0.0.1 port: ``.url``, ``.api_key``, ``.read_only_key``,
  ``.reset()``, ``.requests()``, ``.set_fault(...)``, ``.clear_faults()``,
  ``.set_latency(ms)``, ``.set_usage(...)``, ``.state`` (the SimState).
- ``mailcow_target`` (session): where the contract suite runs: a real
  Mailcow when ``MAILCOW_TEST_URL`` and ``MAILCOW_TEST_API_KEY`` are set,
  else the simulator. ``.is_sim``, ``.unique_domain()``, ``.unique_local()``.
- ``mailcow_client`` (function): a MailcowClient on the target; on the
  simulator, state and counters are reset first.
- ``mailcow_cleanup`` (function): register domains/mailboxes/aliases to
  delete after the test (needed on a real server; harmless on the simulator).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from mailherd.mailcow.client import MailcowClient, MailcowError

from .server import SimulatorHandle, SimulatorThread

ENV_URL = "MAILCOW_TEST_URL"
ENV_KEY = "MAILCOW_TEST_API_KEY"
ENV_RO_KEY = "MAILCOW_TEST_READ_ONLY_KEY"


@dataclass
class MailcowTarget:
    """The Mailcow a contract test talks to."""

    url: str
    api_key: str
    read_only_key: str | None
    sim: SimulatorHandle | None
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def is_sim(self) -> bool:
        return self.sim is not None

    def unique_domain(self, prefix: str = "mh") -> str:
        """A domain name no other test (or run) uses."""
        return f"{prefix}-{self.run_id}-{next(self._counter)}.test"

    def unique_local(self, prefix: str = "u") -> str:
        return f"{prefix}{self.run_id}{next(self._counter)}"

    def client(self, api_key: str | None = None, **kwargs: object) -> MailcowClient:
        return MailcowClient(self.url, api_key or self.api_key, **kwargs)  # type: ignore[arg-type]


@dataclass
class Cleanup:
    """Objects to delete after a test, newest first."""

    client: MailcowClient
    domains: list[str] = field(default_factory=list)
    mailboxes: list[str] = field(default_factory=list)
    aliases: list[int] = field(default_factory=list)

    def run(self) -> None:
        for alias_id in reversed(self.aliases):
            with contextlib.suppress(MailcowError):
                self.client.delete_alias(alias_id, missing_ok=True)
        for address in reversed(self.mailboxes):
            with contextlib.suppress(MailcowError):
                self.client.delete_mailbox(address, missing_ok=True)
        for name in reversed(self.domains):
            with contextlib.suppress(MailcowError):
                for mailbox in self.client.list_mailboxes(name):
                    self.client.delete_mailbox(mailbox.address, missing_ok=True)
                self.client.delete_domain(name)
                self.client.delete_dkim(name)


@pytest.fixture(scope="session")
def mailcow_sim() -> Iterator[SimulatorHandle]:
    """An in-process Mailcow simulator for the whole test session."""
    with SimulatorThread() as thread:
        handle = thread.handle()
        try:
            yield handle
        finally:
            handle.close()


@pytest.fixture(scope="session")
def mailcow_target(request: pytest.FixtureRequest) -> MailcowTarget:
    """A real Mailcow if MAILCOW_TEST_URL/MAILCOW_TEST_API_KEY are set, else the simulator."""
    url, key = os.environ.get(ENV_URL), os.environ.get(ENV_KEY)
    if url and key:
        return MailcowTarget(
            url=url, api_key=key, read_only_key=os.environ.get(ENV_RO_KEY), sim=None
        )
    sim: SimulatorHandle = request.getfixturevalue("mailcow_sim")
    return MailcowTarget(url=sim.url, api_key=sim.api_key, read_only_key=sim.read_only_key, sim=sim)


@pytest.fixture
def mailcow_client(mailcow_target: MailcowTarget) -> Iterator[MailcowClient]:
    """A fresh MailcowClient; on the simulator, state and counters start empty."""
    if mailcow_target.sim is not None:
        mailcow_target.sim.reset()
    with mailcow_target.client() as client:
        yield client


@pytest.fixture
def mailcow_cleanup(mailcow_client: MailcowClient) -> Iterator[Cleanup]:
    """Register objects to delete at teardown (``cleanup.domains.append(name)``)."""
    cleanup = Cleanup(mailcow_client)
    yield cleanup
    cleanup.run()
