"""MAILHERD_DNS_NAMESERVERS: every server is asked on its own port."""

import socket

import pytest

from mailherd.dns.resolver import lookup_txt, make_async_resolver


def _dead_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: nothing answers there


@pytest.mark.parametrize(
    "entry, expected",
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5300", ("127.0.0.1", 5300)),
        ("::1", ("::1", 53)),
        ("[::1]:5301", ("::1", 5301)),
        (" 10.0.0.1:53 ", ("10.0.0.1", 53)),
    ],
)
def test_nameserver_entries_are_read_with_their_ports(entry, expected):
    from mailherd.dns.resolver import parse_nameserver

    assert parse_nameserver(entry) == expected


def test_the_second_nameserver_is_asked_on_its_own_port(powerdns, settings):
    powerdns.create_zone("ports.test")
    powerdns.set_record("ports.test", "_check.ports.test", "TXT", ["second server answered"])
    # A dead port first, the real PowerDNS second (each with its own port).
    settings.MAILHERD_DNS_NAMESERVERS = [f"127.0.0.1:{_dead_udp_port()}", powerdns.nameserver]
    settings.MAILHERD_DNS_TIMEOUT = 4
    assert lookup_txt("_check.ports.test") == ["second server answered"]
    ports = sorted(ns.port for ns in make_async_resolver().nameservers)
    assert int(powerdns.nameserver.rsplit(":", 1)[1]) in ports and len(set(ports)) == 2
