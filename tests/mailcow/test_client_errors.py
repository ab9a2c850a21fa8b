"""The client's one request path, with canned answers (no server, no database)."""

from __future__ import annotations

import json
import logging
import pickle

import httpx
import pytest

from mailherd.mailcow.client import (
    MailcowAlreadyExists,
    MailcowApiError,
    MailcowAuthError,
    MailcowBadRequest,
    MailcowBusinessError,
    MailcowClient,
    MailcowConnectionError,
    MailcowError,
    MailcowInvalidInput,
    MailcowMethodNotAllowed,
    MailcowNoKey,
    MailcowNotFound,
    MailcowNotFoundRoute,
    MailcowPermissionError,
    MailcowProtocolError,
    MailcowQuotaError,
    MailcowRateLimited,
    MailcowServerError,
    MailcowTimeout,
    MailcowValidationError,
)
from mailherd.mailcow.client.transport import backoff_delay, parse_retry_after

KEY = "SECRET-KEY-ABC123-XYZ"


def client_for(handler, **kwargs) -> tuple[MailcowClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    kwargs.setdefault("sleep", lambda s: None)
    return MailcowClient(
        "http://mailcow.test", KEY, transport=httpx.MockTransport(record), **kwargs
    ), seen


def answer(
    status: int, body: object = None, *, text: str | None = None, headers: dict | None = None
):
    content = (
        text.encode() if text is not None else (b"" if body is None else json.dumps(body).encode())
    )
    return lambda request: httpx.Response(
        status, content=content, headers=headers or {"Content-Type": "application/json"}
    )


@pytest.mark.parametrize(
    ("status", "body", "error", "reason"),
    [
        (401, {"type": "error", "msg": "authentication failed"}, MailcowAuthError, "bad_key"),
        (
            401,
            {"type": "error", "msg": "api access denied for ip 10.0.0.7"},
            MailcowAuthError,
            "ip_denied",
        ),
        (
            403,
            {"type": "error", "msg": "API read/write access denied"},
            MailcowPermissionError,
            "read_only",
        ),
        (403, None, MailcowPermissionError, "forbidden"),
        (
            400,
            {"type": "error", "msg": "Request body doesn't contain valid json!"},
            MailcowBadRequest,
            None,
        ),
        (404, {"type": "error", "msg": "route not found"}, MailcowNotFoundRoute, None),
        (
            405,
            {"type": "error", "msg": "only POST method is allowed"},
            MailcowMethodNotAllowed,
            None,
        ),
        (418, {"type": "error", "msg": "teapot"}, MailcowApiError, None),
    ],
)
def test_http_statuses_map_to_typed_errors(status, body, error, reason) -> None:
    client, seen = client_for(answer(status, body))
    with pytest.raises(error) as caught:
        client.delete_domain("acme.test")
    assert caught.value.status == status
    assert caught.value.method == "POST" and caught.value.path == "delete/domain"
    if reason:
        assert caught.value.reason == reason
    assert len(seen) == 1


def test_ip_denied_names_the_ip() -> None:
    client, _ = client_for(
        answer(401, {"type": "error", "msg": "api access denied for ip 10.0.0.7"})
    )
    with pytest.raises(MailcowAuthError) as caught:
        client.get_version()
    assert caught.value.client_ip == "10.0.0.7"
    assert "10.0.0.7" in str(caught.value)


def test_an_empty_read_means_no_key() -> None:
    client, _ = client_for(answer(200, None))
    with pytest.raises(MailcowNoKey):
        client.list_domains()


def test_html_500s_are_server_errors_with_readable_text() -> None:
    page = "<center style='font-family:sans-serif;'>Connection to Redis failed.<br /><br />The following error was reported:<br/>Connection refused</center>"
    client, seen = client_for(answer(500, text=page, headers={"Content-Type": "text/html"}))
    with pytest.raises(MailcowServerError) as caught:
        client.get_domain("acme.test")
    assert (
        "Connection to Redis failed. The following error was reported: Connection refused"
        in str(caught.value)
    )
    assert len(seen) == 3  # retried reads


def test_non_json_200_is_a_protocol_error() -> None:
    client, _ = client_for(answer(200, text="<html>captive portal</html>"))
    with pytest.raises(MailcowProtocolError):
        client.list_domains()


@pytest.mark.parametrize(
    ("envelope", "error", "msg_key", "args"),
    [
        (
            [{"type": "danger", "log": [], "msg": ["domain_exists", "acme.test"]}],
            MailcowAlreadyExists,
            "domain_exists",
            ("acme.test",),
        ),
        ([{"type": "danger", "msg": "domain_invalid"}], MailcowInvalidInput, "domain_invalid", ()),
        (
            [{"type": "danger", "msg": ["max_mailbox_exceeded", 3, 3]}],
            MailcowQuotaError,
            "max_mailbox_exceeded",
            (3, 3),
        ),
        (
            [{"type": "danger", "msg": ["mailbox_quota_exceeds_domain_quota"]}],
            MailcowQuotaError,
            "mailbox_quota_exceeds_domain_quota",
            (),
        ),
        ([{"type": "danger", "msg": "access_denied"}], MailcowNotFound, "access_denied", ()),
        (
            [{"type": "danger", "msg": ["some_new_key", "x"]}],
            MailcowBusinessError,
            "some_new_key",
            ("x",),
        ),
        ({"type": "error", "msg": "Cannot add item"}, MailcowBusinessError, "Cannot add item", ()),
        (
            [
                {"type": "danger", "msg": ["goto_invalid", "garbage"]},
                {"type": "success", "msg": ["alias_modified", "a@b.test"]},
            ],
            MailcowInvalidInput,
            "goto_invalid",
            ("garbage",),
        ),
    ],
)
def test_business_errors_in_200_are_typed(envelope, error, msg_key, args) -> None:
    client, _ = client_for(answer(200, envelope))
    with pytest.raises(error) as caught:
        client.delete_domain("acme.test")
    assert type(caught.value) is error
    assert (caught.value.msg_key, caught.value.msg_args, caught.value.status) == (
        msg_key,
        args,
        200,
    )


def test_danger_beside_success_is_a_partial_failure() -> None:
    envelope = [
        {"type": "danger", "msg": ["domain_not_found", ""]},
        {"type": "success", "msg": ["alias_added", "a@b.test", "10"]},
    ]
    client, _ = client_for(answer(200, envelope))
    with pytest.raises(MailcowNotFound) as caught:
        client.add_alias("a@b.test", ["x@example.org"])
    assert caught.value.partial and len(caught.value.entries) == 2


def test_single_object_success_and_warnings_are_accepted() -> None:
    client, _ = client_for(answer(200, {"type": "success", "msg": "Task completed"}))
    assert client.delete_domain("acme.test").msg_keys == ("Task completed",)
    warning = [
        {"type": "warning", "msg": "Could not move mail storage to garbage collector: "},
        {"type": "success", "msg": ["domain_removed", "acme.test"]},
    ]
    client, _ = client_for(answer(200, warning))
    assert len(client.delete_domain("acme.test").warnings) == 1


def test_empty_collections_come_back_as_an_object() -> None:
    client, _ = client_for(answer(200, {}))
    assert client.list_domains() == [] and client.get_domain("acme.test") is None
    assert client.list_mailboxes() == [] and client.list_aliases() == []


def test_writes_use_the_attr_wrapper_and_bare_arrays() -> None:
    client, seen = client_for(answer(200, [{"type": "success", "msg": ["x", "y"]}]))
    client.edit_mailbox("Alice@ACME.test", active=2)
    client.delete_mailbox("alice@acme.test")
    assert json.loads(seen[0].content) == {"items": ["alice@acme.test"], "attr": {"active": 2}}
    assert json.loads(seen[1].content) == ["alice@acme.test"]
    assert seen[0].url.path == "/api/v1/edit/mailbox"


def test_add_alias_needs_the_id_in_the_answer() -> None:
    client, _ = client_for(answer(200, [{"type": "success", "msg": ["alias_added", "a@b.test"]}]))
    with pytest.raises(MailcowProtocolError):
        client.add_alias("a@b.test", ["x@example.org"])


def test_connection_failures_are_retryable_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    client, seen = client_for(refuse)
    with pytest.raises(MailcowConnectionError) as caught:
        client.add_domain("acme.test", quota_mib=1024)
    assert caught.value.retryable and caught.value.sent is False and len(seen) == 3
    client, seen = client_for(slow)
    with pytest.raises(MailcowTimeout):
        client.add_domain("acme.test", quota_mib=1024)
    assert len(seen) == 1  # a write that may have been sent is not repeated
    with pytest.raises(MailcowTimeout):
        client.list_domains()
    assert len(seen) == 4


def test_the_key_never_appears_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    echo = {"type": "error", "msg": f"weird proxy echoing {KEY}"}
    errors: list[MailcowError] = []
    caplog.set_level(logging.DEBUG, logger="mailherd.mailcow.client")
    for status in (401, 403, 429, 500, 502, 418):
        client, _ = client_for(answer(status, echo))
        with pytest.raises(MailcowError) as caught:
            client.list_domains()
        errors.append(caught.value)
    client, _ = client_for(answer(200, [{"type": "danger", "msg": ["x", KEY]}]))
    with pytest.raises(MailcowError) as caught:
        client.delete_domain("acme.test")
    errors.append(caught.value)

    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"failed with header {request.headers['X-API-Key']}")

    client, _ = client_for(boom)
    with pytest.raises(MailcowError) as caught:
        client.list_domains()
    errors.append(caught.value)
    for error in errors:
        for text in (str(error), repr(error), str(error.body), repr(error.__dict__)):
            assert KEY not in text and KEY.lower() not in text.lower()
        assert error.__cause__ is None
    assert KEY not in caplog.text
    assert KEY not in repr(client)


def test_errors_survive_pickling() -> None:
    client, _ = client_for(answer(401, {"type": "error", "msg": "authentication failed"}))
    with pytest.raises(MailcowAuthError) as caught:
        client.get_version()
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (
        type(copy) is MailcowAuthError
        and copy.reason == "bad_key"
        and str(copy) == str(caught.value)
    )


def test_no_cookie_is_kept_or_sent() -> None:
    def with_cookie(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"version": "x"}, headers={"Set-Cookie": "MCSESSID=abc123; path=/; HttpOnly"}
        )

    client, seen = client_for(with_cookie)
    client.get_version()
    client.get_version()
    assert client._t.cookie_count == 0
    assert "cookie" not in seen[1].headers


def test_retry_after_and_backoff() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert backoff_delay(0, 999) == 30.0
    for attempt in range(8):
        assert 0 < backoff_delay(attempt) <= 4.0
    client, seen = client_for(
        answer(429, {"type": "error", "msg": "slow down"}, headers={"Retry-After": "1.5"})
    )
    sleeps: list[float] = []
    client._t._sleep = sleeps.append
    with pytest.raises(MailcowRateLimited) as caught:
        client.list_domains()
    assert sleeps == [1.5, 1.5] and caught.value.retry_after == 1.5


def test_construction_checks_url_and_key() -> None:
    with pytest.raises(MailcowValidationError):
        MailcowClient("mailcow.test", KEY)
    with pytest.raises(MailcowValidationError) as caught:
        MailcowClient("http://mailcow.test", "key with spaces!")
    assert "key with spaces" not in str(caught.value)
    client = MailcowClient("https://mailcow.test/api/v1/", KEY)
    assert client.base_url == "https://mailcow.test"
    client.close()
