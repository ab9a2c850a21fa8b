"""Operator: the servers' IPs against configured DNS blocklists, with PowerDNS zones as the lists."""

import pytest

from mailherd.deliverability.blocklists import blocklists_check
from mailherd.deliverability.models import Blocklist, BlocklistResult
from mailherd.mailcow.models import MailServer
from tests.conftest import make_user
from tests.operator.fixtures import sign_in_with_two_factor, with_two_factor

pytestmark = pytest.mark.django_db

LISTING = "bl-listing.test"
CLEAN = "bl-clean.test"
REFUSING = "bl-refusing.test"


@pytest.fixture
def lists(dns_nameserver):
    pdns = dns_nameserver
    for zone in ("blhosts.test", LISTING, CLEAN, REFUSING):
        pdns.create_zone(zone)
    pdns.set_record("blhosts.test", "mail.blhosts.test", "A", ["192.0.2.10"])
    pdns.set_record("blhosts.test", "mail.blhosts.test", "AAAA", ["2001:db8::10"])
    pdns.set_record("blhosts.test", "mx2.blhosts.test", "A", ["192.0.2.20"])
    # 192.0.2.10 and the IPv6 address are listed on one list, with a reason.
    pdns.set_record(LISTING, f"10.2.0.192.{LISTING}", "A", ["127.0.0.2"])
    pdns.set_record(
        LISTING, f"10.2.0.192.{LISTING}", "TXT", ["Listed for spam: https://bl.test/192.0.2.10"]
    )
    nibbles = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
    pdns.set_record(LISTING, f"{nibbles}.{LISTING}", "A", ["127.0.0.4"])
    # This list refuses (Spamhaus answers 127.255.255.254 to public resolvers).
    pdns.set_record(REFUSING, f"10.2.0.192.{REFUSING}", "A", ["127.255.255.254"])
    for zone in (LISTING, CLEAN, REFUSING):
        Blocklist.objects.create(zone=zone)
    Blocklist.objects.create(zone="bl-disabled.test", enabled=False)
    return pdns


@pytest.fixture
def servers(db):
    one = MailServer.objects.create(
        name="one", api_url="https://mail.blhosts.test", api_key="k", hostname="mail.blhosts.test"
    )
    two = MailServer.objects.create(
        name="two", api_url="https://mx2.blhosts.test", api_key="k", hostname="mx2.blhosts.test"
    )
    return one, two


def _status(server, ip, zone):
    return BlocklistResult.objects.get(server=server, ip=ip, blocklist__zone=zone)


def test_every_server_ip_is_checked_on_every_enabled_list(lists, servers):
    one, two = servers
    results = blocklists_check()
    assert len(results) == 3 * 3  # (two IPs of one + one of two) × three enabled lists
    listed = _status(one, "192.0.2.10", LISTING)
    assert listed.status == "listed" and listed.answer == "127.0.0.2"
    assert "Listed for spam" in listed.reason and listed.listed_since is not None
    assert _status(one, "2001:db8::10", LISTING).status == "listed"
    assert _status(one, "192.0.2.10", CLEAN).status == "clean"
    refused = _status(one, "192.0.2.10", REFUSING)
    assert refused.status == "unknown" and "refused" in refused.reason
    assert {r.status for r in BlocklistResult.objects.filter(server=two)} == {"clean"}
    assert not BlocklistResult.objects.filter(blocklist__zone="bl-disabled.test").exists()


def test_delisting_is_seen_at_the_next_check_and_listed_since_is_kept(lists, servers):
    one, _ = servers
    blocklists_check()
    since = _status(one, "192.0.2.10", LISTING).listed_since
    blocklists_check()
    assert _status(one, "192.0.2.10", LISTING).listed_since == since
    lists.delete_record(f"10.2.0.192.{LISTING}", "A", LISTING)
    blocklists_check()
    result = _status(one, "192.0.2.10", LISTING)
    assert result.status == "clean" and result.listed_since is None


def test_a_dead_resolver_means_could_not_check_not_listed(lists, servers, settings):
    blocklists_check()
    settings.MAILHERD_DNS_NAMESERVERS = ["127.0.0.1:9"]  # nothing listens there
    settings.MAILHERD_DNS_TIMEOUT = 1
    one, _ = servers
    # The server's own addresses cannot be looked up either: what we knew is kept, as unchecked.
    blocklists_check(servers=[one])
    results = BlocklistResult.objects.filter(server=one)
    assert results.count() == 6 and {r.status for r in results} == {"unknown"}
    assert "Could not look up" in results.first().reason


def test_the_back_office_shows_the_results(lists, servers, client):
    blocklists_check()
    sign_in_with_two_factor(client, with_two_factor(make_user("ops-bl@operator.test", staff=True)))
    page = client.get(
        "/operator/deliverability/blocklistresult/?status__exact=listed"
    ).content.decode()
    assert "192.0.2.10" in page and "2001:db8::10" in page and LISTING in page
    assert "192.0.2.20" not in page
