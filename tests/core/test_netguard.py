"""Customer-supplied URLs never reach loopback, private or link-local addresses unless allowed."""

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from mailherd.core import netguard
from mailherd.core.netguard import TargetNotAllowed, guarded_client, validate_url


@pytest.fixture
def receiver():
    """A local HTTP server that records the paths it was asked for; /redirect?to=URL redirects."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            if self.path.startswith("/redirect?to="):
                self.send_response(302)
                self.send_header("Location", self.path.split("=", 1)[1])
                self.end_headers()
                return
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.hits = hits
    yield server
    server.shutdown()
    server.server_close()


def _fake_dns(monkeypatch, answers: dict[str, list[str]]):
    """Resolve the given names to the given addresses (in turn when a list of lists)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            queue = answers[host]
            address = queue.pop(0) if len(queue) > 1 else queue[0]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    "address,words",
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not a public"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("2002:7f00:1::", "loopback"),
    ],
)
def test_refused_addresses_are_named_in_words(address, words):
    assert words in netguard.address_problem(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert netguard.address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url,words",
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://[::1]:8443/hook", "loopback"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://[::ffff:7f00:1]/", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://10.0.0.5/", "private"),
        ("https://localhost/hook", "this server"),
        ("https://foo.localhost/hook", "this server"),
        ("https://2130706433/", "unusual spelling"),
        ("https://0x7f.1/", "unusual spelling"),
        ("https://0177.0.0.1/", "unusual spelling"),
        ("https://127.1/", "unusual spelling"),
        ("http://8.8.8.8/hook", "must start with https://"),
        ("ftp://example.com/", "must start with https://"),
        ("file:///etc/passwd", "must start with https://"),
        ("https://user:secret@example.com/", "no user name or password"),
        ("https://example.com:99999/", "port"),
        ("https:///path", "no host name"),
        ("", "Enter a URL"),
        ("https://exa mple.com/", "spaces"),
    ],
)
def test_validate_url_refuses_in_plain_words(url, words):
    with pytest.raises(TargetNotAllowed) as caught:
        validate_url(url)
    assert words in caught.value.message
    assert caught.value.code == "target_not_allowed"
    assert caught.value.fields == {"field": "url"}


def test_validate_url_checks_what_a_name_resolves_to(monkeypatch):
    _fake_dns(monkeypatch, {"intranet.example.com": ["192.168.7.7"]})
    with pytest.raises(TargetNotAllowed) as caught:
        validate_url("https://intranet.example.com/hook")
    assert caught.value.message.startswith(
        "intranet.example.com resolves to 192.168.7.7, an address"
    )


def test_validate_url_accepts_public_targets(monkeypatch):
    _fake_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34"]})
    assert (
        validate_url(" https://hooks.example.com/mailherd ") == "https://hooks.example.com/mailherd"
    )
    assert validate_url("https://8.8.8.8/x") == "https://8.8.8.8/x"


def test_connection_to_loopback_is_refused_and_nothing_arrives(receiver):
    with guarded_client() as client, pytest.raises(TargetNotAllowed):
        client.get(f"http://127.0.0.1:{receiver.server_port}/secret")
    assert receiver.hits == []


def test_dns_rebinding_is_checked_at_connect_time(monkeypatch, receiver):
    """The name looked public when saved, then answers 127.0.0.1: the connection is refused."""
    _fake_dns(monkeypatch, {"rebind.example.com": ["93.184.216.34", "127.0.0.1"]})
    validate_url("https://rebind.example.com/hook")
    with guarded_client() as client, pytest.raises(TargetNotAllowed) as caught:
        client.get(f"http://rebind.example.com:{receiver.server_port}/hook")
    assert "resolves to 127.0.0.1" in caught.value.message
    assert receiver.hits == []


def test_redirect_to_a_private_address_is_refused(settings, monkeypatch, receiver):
    settings.MAILHERD_ALLOWED_TARGETS = ["allowed.example.com"]
    _fake_dns(monkeypatch, {"allowed.example.com": ["127.0.0.1"]})
    port = receiver.server_port
    with guarded_client(follow_redirects=True) as client:
        assert client.get(f"http://allowed.example.com:{port}/plain").text == "ok"
        with pytest.raises(TargetNotAllowed):
            client.get(
                f"http://allowed.example.com:{port}/redirect?to=http://127.0.0.1:{port}/secret"
            )
    assert "/secret" not in receiver.hits


def test_operator_can_allow_private_targets(settings, receiver):
    settings.MAILHERD_ALLOW_PRIVATE_TARGETS = True
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    assert validate_url(url) == url  # plain http too, for a receiver on the same machine
    with guarded_client() as client:
        assert client.get(url).status_code == 200
    assert receiver.hits == ["/hook"]


def test_operator_can_allow_a_network(settings, receiver):
    settings.MAILHERD_ALLOWED_TARGETS = ["127.0.0.0/8"]
    with guarded_client() as client:
        assert client.get(f"http://127.0.0.1:{receiver.server_port}/a").status_code == 200
    with pytest.raises(TargetNotAllowed):
        validate_url("https://10.0.0.1/")


def test_environment_proxies_are_ignored(monkeypatch, receiver):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{receiver.server_port}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{receiver.server_port}")
    with guarded_client(timeout=2) as client, pytest.raises(httpx.HTTPError):
        client.get("http://does-not-exist.invalid/")
    assert receiver.hits == []


async def _async_get(url):
    async with netguard.guarded_async_client() as client:
        return await client.get(url)


def test_async_client_refuses_loopback(receiver):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    # A thread of its own: the session's Playwright keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool, pytest.raises(TargetNotAllowed):
        pool.submit(asyncio.run, _async_get(f"http://127.0.0.1:{receiver.server_port}/x")).result()
    assert receiver.hits == []
