"""What the reports say: GET /api/v1/domains/{name}/dmarc, and the tightening proposal."""

from datetime import date, timedelta

import pytest

from mailherd.core.actors import Actor
from mailherd.dns.services import dns_settings_update
from tests.deliverability.conftest import ingest, ingest_days
from tests.deliverability.reports import Row, aggregate_xml

pytestmark = pytest.mark.django_db

GOOD = "192.0.2.10"  # the mail server
NEWSLETTER = "198.51.100.20"  # a newsletter service nobody set up SPF/DKIM for
FORWARDER = "203.0.113.30"  # a handful of forwarded messages


def clean(day):
    return [Row(GOOD, 100), Row(FORWARDER, 1, spf=False, dkim=False)]


def test_summary_counts_per_source_over_the_window(api, acme_domain):
    ingest_days(
        acme_domain,
        days=3,
        rows_for_day=lambda d: [Row(GOOD, 100), Row(NEWSLETTER, 20, spf=False, dkim=True)],
    )
    # Older than the window: not counted.
    old = date.today() - timedelta(days=40)
    ingest(acme_domain, aggregate_xml(domain="acme.test", rows=[Row(GOOD, 999)], day=old))
    body = api.get("/domains/acme.test/dmarc?days=30").json()
    assert (body["messages"], body["aligned"], body["failed"]) == (360, 360, 0)
    sources = {s["ip"]: s for s in body["sources"]}
    assert sources[GOOD] | {"name": ""} == {
        "ip": GOOD,
        "name": "",
        "organization": "",
        "messages": 300,
        "spf": 300,
        "dkim": 300,
        "aligned": 300,
        "failed": 0,
    }
    assert (sources[NEWSLETTER]["spf"], sources[NEWSLETTER]["dkim"]) == (0, 60)
    assert len(body["per_day"]) == 30 and body["per_day"][-1]["messages"] == 120
    assert api.get("/domains/acme.test/dmarc?days=60").json()["messages"] == 360 + 999
    assert api.get("/domains/acme.test/dmarc?days=0").status_code == 422


def test_clean_data_over_thirty_days_proposes_the_next_step(api, acme_domain):
    ingest_days(acme_domain, days=30, rows_for_day=clean)
    proposal = api.get("/domains/acme.test/dmarc").json()["proposal"]
    assert proposal["ready"] is True
    assert proposal["current"] == {"policy": "none", "pct": 100}
    assert proposal["next"] == {"policy": "quarantine", "pct": 25}
    assert proposal["failing_sources"] == []


def test_after_quarantine_the_next_step_is_all_then_reject(api, acme_domain, tenants):
    ingest_days(acme_domain, days=30, rows_for_day=clean)
    actor = Actor.for_user(tenants.alice)
    dns_settings_update(actor=actor, domain=acme_domain, dmarc_policy="quarantine", dmarc_pct=25)
    assert api.get("/domains/acme.test/dmarc").json()["proposal"]["next"] == {
        "policy": "quarantine",
        "pct": 100,
    }
    dns_settings_update(actor=actor, domain=acme_domain, dmarc_policy="quarantine", dmarc_pct=100)
    assert api.get("/domains/acme.test/dmarc").json()["proposal"]["next"] == {
        "policy": "reject",
        "pct": 100,
    }
    dns_settings_update(actor=actor, domain=acme_domain, dmarc_policy="reject", dmarc_pct=100)
    proposal = api.get("/domains/acme.test/dmarc").json()["proposal"]
    assert proposal["ready"] is False and proposal["next"] is None


def test_a_failing_source_with_real_volume_is_named_and_nothing_is_proposed(api, acme_domain):
    ingest_days(
        acme_domain,
        days=30,
        rows_for_day=lambda d: clean(d) + [Row(NEWSLETTER, 40, spf=False, dkim=False)],
    )
    proposal = api.get("/domains/acme.test/dmarc").json()["proposal"]
    assert proposal["ready"] is False
    assert [s["ip"] for s in proposal["failing_sources"]] == [NEWSLETTER]
    assert NEWSLETTER in proposal["message"] and "1200 of 1200 fail" in proposal["message"]
    # The forwarder's few failures are not real volume: not named.
    assert FORWARDER not in proposal["message"]


def test_too_few_days_of_reports_waits(api, acme_domain):
    ingest_days(acme_domain, days=10, rows_for_day=clean)
    proposal = api.get("/domains/acme.test/dmarc").json()["proposal"]
    assert proposal["ready"] is False and "10 of the 30 days" in proposal["message"]
    assert api.get("/domains/acme.test/dmarc?days=7").json()["proposal"]["ready"] is True
