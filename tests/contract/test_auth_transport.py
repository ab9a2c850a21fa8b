"""Transport facts: auth answers, status codes, envelopes, cookies (reference §1-4)."""

from __future__ import annotations

import socket

import httpx
import pytest

from mailherd.mailcow.client import (
    MailcowAuthError,
    MailcowClient,
    MailcowConnectionError,
    MailcowMethodNotAllowed,
    MailcowNoKey,
    MailcowNotFoundRoute,
    MailcowPermissionError,
    MailcowTimeout,
)

from .conftest import MailcowTarget


def raw(target: MailcowTarget, **kwargs: object) -> httpx.Client:
    """A plain httpx client (no Mailherd logic) for observing Mailcow itself."""
    return httpx.Client(base_url=target.url + "/api/v1", timeout=10, trust_env=False, **kwargs)  # type: ignore[arg-type]


def test_it_reads_the_version(mc: MailcowClient) -> None:
    # when
    version = mc.get_version()
    # then
    assert version.version


def test_it_says_the_key_is_wrong(target: MailcowTarget) -> None:
    # given a fresh client (no cookie from an earlier good call)
    with target.client("WRONG-KEY-1234") as client, pytest.raises(MailcowAuthError) as caught:
        client.get_version()
    assert caught.value.status == 401
    assert caught.value.reason == "bad_key"
    assert "WRONG-KEY-1234" not in str(caught.value) + repr(caught.value)


def test_the_wrong_key_answer_is_json_labelled_html(target: MailcowTarget) -> None:
    # Mailcow prints the 401 before it sets its JSON header (reference §10).
    with raw(target, headers={"X-API-Key": "WRONG-KEY-1234"}) as http:
        response = http.get("/get/status/version")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert response.json() == {"type": "error", "msg": "authentication failed"}


def test_the_key_lookup_is_case_insensitive(target: MailcowTarget) -> None:
    if target.api_key.lower() == target.api_key:
        pytest.skip("key has no upper-case letters")
    with target.client(target.api_key.lower()) as client:
        assert client.get_version().version


def test_a_read_without_key_is_an_empty_200_and_the_client_says_no_key(
    target: MailcowTarget,
) -> None:
    # given Mailcow itself
    with raw(target) as http:
        response = http.get("/get/domain/all")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"].startswith("application/json")
    # and the client with its key header removed
    with target.client() as client:
        client._t._http.headers.pop("X-API-Key")
        with pytest.raises(MailcowNoKey) as caught:
            client.list_domains()
    assert caught.value.reason == "no_key"


def test_writes_without_key_are_refused(target: MailcowTarget) -> None:
    with raw(target) as http:
        add = http.post("/add/domain", json={"domain": target.unique_domain()})
        edit = http.post("/edit/domain", json={"items": ["x.test"], "attr": {"active": 0}})
        delete = http.post("/delete/domain", json=["x.test"])
    assert add.status_code == 200
    assert add.json()[0]["type"] == "danger" and add.json()[0]["msg"] == "access_denied"
    assert edit.status_code == delete.status_code == 403
    assert edit.json() == {"type": "error", "msg": "API read/write access denied"}
    with target.client() as client:
        client._t._http.headers.pop("X-API-Key")
        with pytest.raises(MailcowPermissionError):
            client.delete_domain("x.test")


def test_a_read_only_key_reads_but_cannot_write(target: MailcowTarget) -> None:
    if not target.read_only_key:
        pytest.skip("no read-only key (MAILCOW_TEST_READ_ONLY_KEY)")
    with target.client(target.read_only_key) as client:
        client.list_domains()
        with pytest.raises(MailcowPermissionError) as caught:
            client.add_domain(target.unique_domain(), quota_mib=1024, max_mailbox_quota_mib=1024)
    assert caught.value.status == 403
    assert caught.value.reason == "read_only"


@pytest.mark.sim_only
def test_it_says_when_the_ip_is_not_allowed(target: MailcowTarget) -> None:
    # given a key limited to another network
    assert target.sim is not None
    target.sim.add_key("IP-LIMITED-KEY", allow_from=["10.9.9.0/24"])
    with target.client("IP-LIMITED-KEY") as client, pytest.raises(MailcowAuthError) as caught:
        client.get_version()
    assert caught.value.reason == "ip_denied"
    assert caught.value.client_ip == "127.0.0.1"


def test_unknown_routes_and_wrong_methods_are_typed(
    mc: MailcowClient, target: MailcowTarget
) -> None:
    with pytest.raises(MailcowNotFoundRoute):
        mc._t.get("get/no-such-category/all")
    with pytest.raises(MailcowMethodNotAllowed):
        mc._t.write("get/domain/all", {"x": 1})
    with raw(target, headers={"X-API-Key": target.api_key}) as http:
        assert http.options("/get/domain/all").status_code == 405
        assert http.post("/frobnicate/domain", json={}).status_code == 404
        # The body check comes before the method check on add (§1).
        attrs_missing = http.get("/add/domain")
    assert attrs_missing.status_code == 200
    assert attrs_missing.json() == {"type": "error", "msg": "Cannot find attributes in post data"}


def test_a_body_that_is_not_json_is_a_400(target: MailcowTarget) -> None:
    with raw(target, headers={"X-API-Key": target.api_key}) as http:
        response = http.post(
            "/add/domain", content=b"{not json", headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json() == {"type": "error", "msg": "Request body doesn't contain valid json!"}


def test_gets_are_pretty_printed_and_the_client_parses_them(
    mc: MailcowClient, target: MailcowTarget, domain: str
) -> None:
    with raw(target, headers={"X-API-Key": target.api_key}) as http:
        text = http.get(f"/get/domain/{domain}").text
    assert "\n    " in text
    got = mc.get_domain(domain)
    assert got is not None
    assert got.name == domain


def test_the_session_cookie_alone_grants_admin_so_the_client_keeps_none(
    mc: MailcowClient, target: MailcowTarget, domain: str
) -> None:
    # given Mailcow hands out a session cookie with every answer
    with raw(target, headers={"X-API-Key": target.api_key}) as http:
        first = http.get(f"/get/domain/{domain}")
    cookie = first.cookies.get("MCSESSID")
    assert cookie
    # when that cookie is used without any key (§2)
    with raw(target) as http:
        edited = http.post(
            "/edit/domain",
            json={"items": [domain], "attr": {"description": "cookie only"}},
            headers={"Cookie": f"MCSESSID={cookie}"},
        )
    # then it works as admin...
    assert edited.json()[0]["msg"] == ["domain_modified", domain]
    # ...which is why the client keeps no cookie at all
    mc.get_domain(domain)
    mc.edit_domain(domain, description="by key")
    assert mc._t.cookie_count == 0
    if target.sim is not None:
        assert not any(r["has_cookie"] for r in target.sim.request_log() if r["has_key"])


def test_legacy_form_posts_are_accepted(target: MailcowTarget, mc: MailcowClient, cleanup) -> None:
    name = target.unique_domain()
    cleanup.domains.append(name)
    with raw(target, headers={"X-API-Key": target.api_key}) as http:
        response = http.post("/add/domain", data={"attr": f'{{"domain":"{name}"}}'})
    assert ["domain_added", name] in [e["msg"] for e in response.json()]
    assert mc.get_domain(name) is not None


def test_the_browser_navigation_guard_is_an_empty_403(target: MailcowTarget) -> None:
    with raw(target, headers={"X-API-Key": target.api_key, "Sec-Fetch-Dest": "document"}) as http:
        response = http.get("/get/status/version")
    assert response.status_code == 403
    assert response.content == b""


def test_an_unreachable_server_is_a_connection_error() -> None:
    # given a port nobody listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    with MailcowClient(f"http://127.0.0.1:{port}", "ANY-KEY", sleep=sleeps.append) as client:
        with pytest.raises(MailcowConnectionError) as caught:
            client.list_domains()
        # a write is retried too: the connection never opened, nothing was sent
        with pytest.raises(MailcowConnectionError) as write_error:
            client.add_domain("acme.test", quota_mib=1024, max_mailbox_quota_mib=1024)
    assert not isinstance(caught.value, MailcowTimeout)
    assert caught.value.sent is False and write_error.value.sent is False
    assert len(sleeps) == 4  # two retries per call


@pytest.mark.sim_only
def test_a_slow_server_is_a_timeout(target: MailcowTarget) -> None:
    assert target.sim is not None
    target.sim.set_latency(400)
    try:
        with (
            target.client(read_timeout=0.1, max_retries=0) as client,
            pytest.raises(MailcowTimeout),
        ):
            client.list_domains()
    finally:
        target.sim.set_latency(0)
