"""DNS tests: a real PowerDNS on loopback, the Mailcow simulator, and domains made through the services."""

import pytest

from mailherd.dns.records import Record, domain_records
from mailherd.hosting.provisioning import outbox_drain
from tests.hosting.conftest import mail_server, sim, verified_domain  # noqa: F401  (fixtures)

SERVER_ADDRESS = "192.0.2.25"


def publish(pdns, records: list[Record], *, zone: str, skip=(), replace=None) -> None:
    """Put the records into PowerDNS as a customer following the page would (names grouped per RRset).

    skip: record keys left out; replace: {key: [contents]} published instead of ours.
    """
    replace = replace or {}
    rrsets: dict[tuple[str, str], list[str]] = {}
    for record in records:
        if record.optional or record.key in skip:
            continue
        contents = replace.get(
            record.key, [record.value if record.type == "TXT" else _content(record)]
        )
        rrsets.setdefault((record.name, record.type), []).extend(contents)
    for (name, rtype), contents in rrsets.items():
        pdns.set_record(zone, name, rtype, list(dict.fromkeys(contents)))


def _content(record: Record) -> str:
    head, _, host = record.content.rpartition(" ")
    host = host.rstrip(".") + "."
    return f"{head} {host}" if head else host


@pytest.fixture
def server_dns(dns_nameserver):  # noqa: F811
    """The mail server's forward and reverse DNS, as the operator sets it up."""
    dns_nameserver.create_zone("provider.test")
    dns_nameserver.set_record("provider.test", "mail.provider.test", "A", [SERVER_ADDRESS])
    dns_nameserver.create_zone("2.0.192.in-addr.arpa")
    dns_nameserver.set_record(
        "2.0.192.in-addr.arpa", "25.2.0.192.in-addr.arpa", "PTR", ["mail.provider.test."]
    )
    return dns_nameserver


@pytest.fixture
def make_domain(tenants, mail_server, server_dns):  # noqa: F811
    """A verified, provisioned domain (DKIM key from the simulator) with an empty zone in PowerDNS."""

    def make(name: str, organization=None):
        domain = verified_domain(organization or tenants.acme, name)
        outbox_drain()
        domain.refresh_from_db()
        reset_zone(server_dns, name)
        return domain

    return make


def expected(domain) -> list[Record]:
    return domain_records(domain)


def reset_zone(pdns, name: str) -> None:
    """An empty zone (PowerDNS lives for the whole session; each test starts clean)."""
    import httpx

    try:
        pdns._api("DELETE", f"/zones/{name}.")
    except httpx.HTTPStatusError:
        pass
    pdns.create_zone(name)


def set_txt_zone_form(pdns, zone: str, name: str, values: list[str]) -> None:
    """Publish TXT values in zone-file form, escaping quotes (the shared fixture quotes naively)."""
    from mailherd.dns.records import txt_zone_value

    pdns._api(
        "PATCH",
        f"/zones/{zone}.",
        json={
            "rrsets": [
                {
                    "name": name + ".",
                    "type": "TXT",
                    "ttl": 60,
                    "changetype": "REPLACE",
                    "records": [{"content": txt_zone_value(v), "disabled": False} for v in values],
                }
            ]
        },
    )
