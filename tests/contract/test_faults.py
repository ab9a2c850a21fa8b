"""Fault injection on the simulator: down, 5xx, drop, error-in-200, retries."""

from __future__ import annotations

import pytest

from mailherd.mailcow.client import (
    MailcowBackendError,
    MailcowClient,
    MailcowConnectionError,
    MailcowRateLimited,
    MailcowServerError,
)
from mailherd.mailcow.client import constants as c

from .conftest import MailcowTarget

pytestmark = pytest.mark.sim_only


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(mc: MailcowClient, target: MailcowTarget, sleeps: list[float]):
    with target.client(sleep=sleeps.append) as client:
        yield client


def test_a_down_backend_is_a_server_error_with_the_reason(
    client: MailcowClient, target: MailcowTarget, sleeps
) -> None:
    assert target.sim is not None
    target.sim.set_fault("down")
    with pytest.raises(MailcowServerError) as caught:
        client.list_domains()
    assert caught.value.status == 500 and caught.value.retryable
    assert "Connection to Redis failed" in str(caught.value)
    # a read is tried 1 + MAX_RETRIES times with capped backoff
    assert target.sim.request_count() == 1 + c.MAX_RETRIES
    assert len(sleeps) == c.MAX_RETRIES and all(0 < s <= c.MAX_RETRY_DELAY for s in sleeps)


def test_a_read_recovers_when_the_outage_is_short(
    client: MailcowClient, target: MailcowTarget
) -> None:
    assert target.sim is not None
    target.sim.set_fault("down", count=1, message="dockerapi")
    assert client.list_domains() == []
    assert target.sim.requests() == {"get/domain": 2}


def test_a_write_is_never_retried_after_it_was_sent(
    client: MailcowClient, target: MailcowTarget, sleeps
) -> None:
    assert target.sim is not None
    target.sim.set_fault("down", count=1)
    with pytest.raises(MailcowServerError):
        client.add_domain(
            "acme.test", quota_mib=1024, max_mailbox_quota_mib=1024, default_mailbox_quota_mib=512
        )
    assert target.sim.request_count() == 1 and sleeps == []
    assert client.get_domain("acme.test") is None


def test_a_dropped_connection_is_a_connection_error(
    client: MailcowClient, target: MailcowTarget
) -> None:
    assert target.sim is not None
    target.sim.set_fault("drop", count=1, scope="write")
    with pytest.raises(MailcowConnectionError) as caught:
        client.add_domain(
            "acme.test", quota_mib=1024, max_mailbox_quota_mib=1024, default_mailbox_quota_mib=512
        )
    assert caught.value.sent is True
    # the write went through before the drop: the outbox must check before retrying
    assert client.get_domain("acme.test") is not None
    target.sim.set_fault("drop", count=1, scope="read")
    assert client.get_domain("acme.test") is not None  # retried


def test_an_error_in_a_200_changes_nothing(client: MailcowClient, target: MailcowTarget) -> None:
    assert target.sim is not None
    target.sim.set_fault("error_in_200", count=1)
    with pytest.raises(MailcowBackendError) as caught:
        client.add_domain(
            "acme.test", quota_mib=1024, max_mailbox_quota_mib=1024, default_mailbox_quota_mib=512
        )
    assert caught.value.msg_key == "mysql_error" and caught.value.retryable
    assert client.get_domain("acme.test") is None


def test_retry_after_is_honoured_on_reads(
    client: MailcowClient, target: MailcowTarget, sleeps
) -> None:
    assert target.sim is not None
    target.sim.set_fault("http", status=429, retry_after=0.25, count=1)
    assert client.list_domains() == []
    assert sleeps == [0.25]
    target.sim.set_fault("http", status=429, retry_after=0.25, count=1)
    with pytest.raises(MailcowRateLimited) as caught:
        client.add_domain(
            "acme.test", quota_mib=1024, max_mailbox_quota_mib=1024, default_mailbox_quota_mib=512
        )
    assert caught.value.retry_after == 0.25


def test_503_is_a_server_error(client: MailcowClient, target: MailcowTarget) -> None:
    assert target.sim is not None
    target.sim.set_fault("http", status=503)
    with pytest.raises(MailcowServerError) as caught:
        client.get_version()
    assert caught.value.status == 503


def test_slow_answers_still_arrive(client: MailcowClient, target: MailcowTarget) -> None:
    assert target.sim is not None
    target.sim.set_fault("slow", ms=50, count=1)
    assert client.get_version().version


def test_request_counters_show_what_was_sent(client: MailcowClient, target: MailcowTarget) -> None:
    assert target.sim is not None
    client.add_domain(
        "acme.test", quota_mib=1024, max_mailbox_quota_mib=1024, default_mailbox_quota_mib=512
    )
    client.get_domain("acme.test")
    client.get_domain("acme.test")
    assert target.sim.requests() == {"add/domain": 1, "get/domain": 2}
    log = target.sim.request_log()
    assert log[0]["method"] == "POST" and log[0]["path"] == "/api/v1/add/domain"
