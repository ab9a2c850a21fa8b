"""Contract suite of the Mailcow client (marker ``contract``).

Runs against the in-process simulator by default, and against a real Mailcow
when MAILCOW_TEST_URL and MAILCOW_TEST_API_KEY are set (see docs/mailcow.md).
Tests marked ``sim_only`` (fault injection, /_sim/) are skipped on a real
server. No test here touches the Django database.
"""

from __future__ import annotations

import pytest

from mailherd.mailcow.client import MailcowClient

# The fixtures (mailcow_sim, mailcow_target, ...) come from the plugin registered in tests/conftest.py.
from mailherd.mailcow.sim.testing import Cleanup, MailcowTarget


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "contract: Mailcow client contract tests")
    config.addinivalue_line("markers", "sim_only: needs the simulator's /_sim/ control plane")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/contract/" in item.nodeid.replace("\\", "/") or "contract/" in item.nodeid:
            item.add_marker(pytest.mark.contract)


@pytest.fixture(autouse=True)
def _skip_sim_only_on_real_server(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("sim_only"):
        target: MailcowTarget = request.getfixturevalue("mailcow_target")
        if not target.is_sim:
            pytest.skip("needs the simulator (fault injection / control plane)")


@pytest.fixture
def target(mailcow_target: MailcowTarget) -> MailcowTarget:  # noqa: F811
    return mailcow_target


@pytest.fixture
def mc(mailcow_client: MailcowClient) -> MailcowClient:  # noqa: F811
    return mailcow_client


@pytest.fixture
def cleanup(mailcow_cleanup: Cleanup) -> Cleanup:  # noqa: F811
    return mailcow_cleanup


@pytest.fixture
def domain(mc: MailcowClient, target: MailcowTarget, cleanup: Cleanup) -> str:
    """A fresh domain: 5120 MiB, 2048 MiB max and 1024 MiB default per mailbox, 3 mailboxes."""
    name = target.unique_domain()
    cleanup.domains.append(name)
    mc.add_domain(
        name,
        quota_mib=5120,
        max_mailbox_quota_mib=2048,
        default_mailbox_quota_mib=1024,
        max_mailboxes=3,
        max_aliases=5,
        description="contract test",
    )
    return name


@pytest.fixture
def mailbox(mc: MailcowClient, domain: str, cleanup: Cleanup) -> str:
    """A mailbox of 500 MiB in ``domain``."""
    address = f"alice@{domain}"
    cleanup.mailboxes.append(address)
    mc.add_mailbox(address, password="Secret-pass-1", quota_mib=500, name="Alice Example")
    return address


def sim_requests(target: MailcowTarget) -> int:
    """Requests the simulator received since the test's reset."""
    assert target.sim is not None
    return target.sim.request_count()
