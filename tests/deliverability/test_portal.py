"""The domain's senders page and the upload form in the portal."""

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mailherd.deliverability.models import Report
from tests.deliverability.conftest import ingest
from tests.deliverability.reports import XML_BOMB, Row, aggregate_xml, gzipped, zipped

pytestmark = pytest.mark.django_db
DAY = date.today() - timedelta(days=1)


def _url(org="acme", name="acme.test", what=""):
    return f"/o/{org}/domains/{name}/deliverability/{what}"


def test_upload_form_takes_several_files_and_refuses_the_bad_one_with_its_reason(
    alice_client, acme_domain
):
    files = [
        SimpleUploadedFile(
            "a.xml.gz",
            gzipped(
                aggregate_xml(
                    domain="acme.test", rows=[Row("192.0.2.1", 30)], day=DAY, report_id="a"
                )
            ),
        ),
        SimpleUploadedFile(
            "b.zip",
            zipped(
                aggregate_xml(
                    domain="acme.test",
                    rows=[Row("192.0.2.2", 12, dkim=False, spf=False)],
                    day=DAY,
                    report_id="b",
                )
            ),
        ),
        SimpleUploadedFile("bomb.xml", XML_BOMB),
    ]
    response = alice_client.post(_url(what="upload/"), {"file": files}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "2 reports added." in page
    assert "bomb.xml: Not a valid DMARC aggregate report" in page
    assert Report.objects.count() == 2
    # The page shows the counts from the two reports, and the refused file with its reason.
    assert "192.0.2.1" in page and "192.0.2.2" in page
    assert ">42<" in page  # messages
    assert ">30<" in page and ">12<" in page
    assert "Files not taken" in page and "DOCTYPE" in page


def test_uploading_the_same_report_again_says_so(alice_client, acme_domain):
    body = aggregate_xml(domain="acme.test", rows=[Row("192.0.2.1", 30)], day=DAY)
    ingest(acme_domain, body)
    response = alice_client.post(
        _url(what="upload/"), {"file": SimpleUploadedFile("a.xml", body)}, follow=True
    )
    assert "already here; counted once" in response.content.decode()
    assert Report.objects.count() == 1


def test_page_draws_the_chart_on_the_server(alice_client, acme_domain):
    ingest(
        acme_domain,
        aggregate_xml(
            domain="acme.test",
            rows=[Row("192.0.2.1", 30), Row("192.0.2.9", 3, spf=False, dkim=False)],
            day=DAY,
        ),
    )
    page = alice_client.get(_url()).content.decode()
    assert '<svg class="chart"' in page and "30 passed, 3 failed" in page
    assert "https://" not in page.split("<body")[0].replace(
        "https://www.w3.org", ""
    )  # no CDN in head


def test_outsiders_get_404(client, tenants, acme_domain, globex_domain):
    client.force_login(tenants.bob)
    assert client.get(_url()).status_code == 404
    assert client.get(_url(org="acme")).status_code == 404
    body = aggregate_xml(domain="acme.test", rows=[Row("192.0.2.1", 30)], day=DAY)
    assert (
        client.post(_url(what="upload/"), {"file": SimpleUploadedFile("a.xml", body)}).status_code
        == 404
    )
    assert (
        client.post(
            _url(org="globex", name="acme.test", what="upload/"),
            {"file": SimpleUploadedFile("a.xml", body)},
        ).status_code
        == 404
    )
    assert not Report.objects.exists()


def test_upload_needs_csrf(tenants, acme_domain):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(tenants.alice)
    body = aggregate_xml(domain="acme.test", rows=[Row("192.0.2.1", 30)], day=DAY)
    assert (
        client.post(_url(what="upload/"), {"file": SimpleUploadedFile("a.xml", body)}).status_code
        == 403
    )
