"""Alerts from the reports: a new sender, a sudden failure rate, TLS failures: email, portal, API."""

from datetime import date, timedelta

import pytest

from mailherd.deliverability.models import Alert
from tests.deliverability.conftest import ingest
from tests.deliverability.reports import Row, aggregate_xml, gzipped, tls_json

pytestmark = pytest.mark.django_db
TODAY = date.today()
GOOD, STRANGER = "192.0.2.10", "203.0.113.66"


def _day(domain, day, rows, reporter="google.com"):
    return ingest(domain, aggregate_xml(domain="acme.test", rows=rows, day=day, reporter=reporter))


@pytest.fixture
def history(acme_domain):
    """Two weeks of clean mail from the domain's own server."""
    for offset in range(14, 0, -1):
        _day(acme_domain, TODAY - timedelta(days=offset), [Row(GOOD, 200)])
    return acme_domain


def test_a_new_sending_source_is_told_by_email_and_in_the_portal(
    history, mailoutbox, alice_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _day(history, TODAY, [Row(GOOD, 200), Row(STRANGER, 25, spf=False, dkim=False)])
    alert = Alert.objects.get(kind="new_source")
    assert STRANGER in alert.message and "25 failed DMARC" in alert.message
    told = [m for m in mailoutbox if m.subject == "acme.test: New sending source"]
    assert told[0].to == ["alice@acme.test"] and STRANGER in told[0].body
    # Shown on every portal page, and on the senders page with a dismiss button.
    assert STRANGER in alice_client.get("/o/acme/").content.decode()
    page = alice_client.get("/o/acme/domains/acme.test/deliverability/").content.decode()
    assert 'data-alert-kind="new_source"' in page
    alice_client.post(f"/o/acme/domains/acme.test/deliverability/alerts/{alert.pk}/dismiss/")
    assert STRANGER not in alice_client.get("/o/acme/").content.decode()
    # The same source again is no news.
    with django_capture_on_commit_callbacks(execute=True):
        _day(history, TODAY, [Row(STRANGER, 25)], reporter="outlook.com")
    assert Alert.objects.filter(kind="new_source").count() == 1


def test_the_first_report_raises_no_new_source_alert(
    acme_domain, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _day(acme_domain, TODAY, [Row(GOOD, 200), Row(STRANGER, 25)])
    assert not Alert.objects.exists()


def test_a_sudden_failure_rate_is_told(history, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _day(
            history,
            TODAY,
            [Row(GOOD, 150), Row(GOOD.replace("10", "11"), 60, spf=False, dkim=False)],
        )
    alert = Alert.objects.get(kind="failure_rate")
    assert "29%" in alert.message and "usually 0%" in alert.message
    assert any(m.subject == "acme.test: Sudden DMARC failures" for m in mailoutbox)


def test_a_normal_day_raises_nothing(history, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _day(history, TODAY, [Row(GOOD, 198), Row(GOOD, 2, spf=False, dkim=False)])
    assert not Alert.objects.exists()


def test_tls_failures_are_told_once_a_day_per_reporter(
    acme_domain, mailoutbox, api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(
            acme_domain, gzipped(tls_json(domain="acme.test", day=TODAY, successful=100, failed=4))
        )
        ingest(
            acme_domain,
            tls_json(domain="acme.test", day=TODAY, successful=100, failed=0, report_id="clean"),
        )
    alert = Alert.objects.get()
    assert alert.kind == "tls_failure" and "4 of 104 TLS connections failed" in alert.message
    assert "certificate-expired" in alert.message
    assert mailoutbox[-1].subject == "acme.test: TLS failures"
    listed = api.get("/domains/acme.test/dmarc/alerts").json()
    assert [a["kind"] for a in listed] == ["tls_failure"]
    response = api.post_raw(
        f"/dmarc-alerts/{alert.pk}/dismiss", b"", content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["dismissed"] is True
    assert api.get("/domains/acme.test/dmarc/alerts").json() == []


def test_outsiders_cannot_see_or_dismiss_alerts(
    client, tenants, acme_domain, globex_domain, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(acme_domain, tls_json(domain="acme.test", day=TODAY, successful=1, failed=4))
    alert = Alert.objects.get()
    client.force_login(tenants.bob)
    assert "TLS" not in client.get("/o/globex/").content.decode().split("<main")[1]
    assert (
        client.post(
            f"/o/acme/domains/acme.test/deliverability/alerts/{alert.pk}/dismiss/"
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/o/globex/domains/globex.test/deliverability/alerts/{alert.pk}/dismiss/"
        ).status_code
        == 302
    )
    alert.refresh_from_db()
    assert alert.dismissed_at is None


def test_an_alert_is_a_lifecycle_event_for_subscribed_endpoints(
    history, tenants, django_capture_on_commit_callbacks, settings
):
    from mailherd.core.actors import Actor
    from mailherd.webhooks.models import WebhookDelivery
    from mailherd.webhooks.services import endpoint_create

    settings.MAILHERD_ALLOW_PRIVATE_TARGETS = True
    endpoint, _secret = endpoint_create(
        actor=Actor.for_user(tenants.alice),
        organization=tenants.acme,
        url="https://hooks.acme.test/mail",
        events=["deliverability.new_source"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        _day(history, TODAY, [Row(GOOD, 200), Row(STRANGER, 25, spf=False, dkim=False)])
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.event_type == "deliverability.new_source"
    assert STRANGER in str(delivery.payload)
