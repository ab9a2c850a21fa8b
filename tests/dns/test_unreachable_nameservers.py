"""A nameserver that times out or answers SERVFAIL gives "could not check", never "wrong"."""

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import pytest

from mailherd.dns.checks import CheckSession, check_records, run
from mailherd.dns.records import RecordSpec, ServerSpec, build_records


def _records():
    return build_records(
        RecordSpec(
            domain="acme.test",
            verification_name="_mailherd-verify.acme.test",
            verification_value="v=1",
            server=ServerSpec("mail.provider.test"),
            dkim_txt="v=DKIM1;p=abc",
        )
    )


class _Servfail(threading.Thread):
    """Answers every query with SERVFAIL."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopped = False

    def run(self):
        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
            self.sock.sendto(response.to_wire(), peer)


@pytest.fixture
def servfail_server():
    server = _Servfail()
    server.start()
    yield server
    server.stopped = True
    server.join(2)
    server.sock.close()


@pytest.fixture
def silent_server():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def _check(settings, port):
    settings.MAILHERD_DNS_NAMESERVERS = [f"127.0.0.1:{port}"]
    settings.MAILHERD_DNS_TIMEOUT = 1

    async def go():
        return await check_records(CheckSession(), _records())

    return run(go())


def test_a_nameserver_that_times_out_gives_could_not_check(settings, silent_server):
    results = _check(settings, silent_server)
    assert {r.status for r in results} == {"unknown"}
    assert all("did not answer in time" in r.detail for r in results if r.record.key != "ptr")


def test_a_servfail_gives_could_not_check(settings, servfail_server):
    results = _check(settings, servfail_server.port)
    assert {r.status for r in results} == {"unknown"}
    assert all("failed to answer" in r.detail for r in results if r.record.key != "ptr")
    assert results[0].status_label == "Could not check"
