"""Sending sources get their reverse names through the configured resolver (PowerDNS here)."""

from datetime import date

import pytest

from mailherd.deliverability.models import SourceName
from mailherd.deliverability.services import source_names_refresh, source_names_sweep
from tests.deliverability.conftest import ingest
from tests.deliverability.reports import Row, aggregate_xml

pytestmark = pytest.mark.django_db


@pytest.fixture
def reverse_zone(dns_nameserver):
    dns_nameserver.create_zone("2.0.192.in-addr.arpa")
    dns_nameserver.set_record(
        "2.0.192.in-addr.arpa", "41.2.0.192.in-addr.arpa", "PTR", ["mail-sor-f41.google.com."]
    )
    dns_nameserver.set_record(
        "2.0.192.in-addr.arpa", "12.2.0.192.in-addr.arpa", "PTR", ["o1.ptr4821.sendgrid.net."]
    )
    return dns_nameserver


def test_sources_are_named_and_grouped_by_organization(api, acme_domain, reverse_zone):
    rows = [
        Row("192.0.2.41", 50),
        Row("192.0.2.12", 20, spf=False, dkim=False),
        Row("192.0.2.99", 3),
    ]
    ingest(acme_domain, aggregate_xml(domain="acme.test", rows=rows, day=date.today()))
    assert source_names_sweep() == 2  # 192.0.2.99 has no PTR: looked up, unnamed
    names = {n.ip: n for n in SourceName.objects.all()}
    assert names["192.0.2.41"].name == "mail-sor-f41.google.com"
    assert names["192.0.2.41"].organization_name.startswith("Google")
    assert names["192.0.2.12"].organization_name == "Twilio SendGrid"
    assert names["192.0.2.99"].name == "" and names["192.0.2.99"].looked_up_at is not None
    sources = {s["ip"]: s for s in api.get("/domains/acme.test/dmarc").json()["sources"]}
    assert sources["192.0.2.41"]["name"] == "mail-sor-f41.google.com"
    assert sources["192.0.2.12"]["organization"] == "Twilio SendGrid"
    assert source_names_sweep() == 0  # fresh names are not asked again


def test_a_dead_resolver_leaves_the_source_to_ask_again(reverse_zone, settings):
    settings.MAILHERD_DNS_NAMESERVERS = ["127.0.0.1:9"]
    settings.MAILHERD_DNS_TIMEOUT = 1
    assert source_names_refresh(ips=["192.0.2.41"]) == 0
    assert not SourceName.objects.exists()
