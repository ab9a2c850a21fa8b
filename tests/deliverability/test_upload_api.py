"""Uploading reports through the API: taken, counted once, or refused with a reason."""

from datetime import date, timedelta

import pytest

from mailherd.deliverability.models import DailySource, Report, ReportRefusal
from tests.deliverability.reports import (
    WRONG_SCHEMA,
    XML_BOMB,
    Row,
    aggregate_xml,
    broken_zip,
    fifty_megabytes,
    gzipped,
    tls_json,
    zipped,
)

pytestmark = pytest.mark.django_db
DAY = date.today() - timedelta(days=1)
URL = "/domains/acme.test/dmarc-reports"


def _report(report_id="r-1", rows=None):
    rows = rows or [Row("192.0.2.10", 40), Row("198.51.100.7", 5, spf=False, dkim=False)]
    return aggregate_xml(domain="acme.test", rows=rows, day=DAY, report_id=report_id)


@pytest.mark.parametrize("pack", [lambda x: x, gzipped, zipped], ids=["plain", "gzip", "zip"])
def test_a_report_is_taken_plain_gzipped_or_zipped_and_counted(api, acme_domain, pack):
    response = api.post_raw(URL, pack(_report()))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "created" and body["kind"] == "aggregate"
    assert body["messages"] == 45 and body["failed"] == 5
    report = Report.objects.get(pk=body["id"])
    assert report.domain == acme_domain and report.records.count() == 2
    sums = {d.source_ip: (d.messages, d.dmarc_pass) for d in DailySource.objects.filter(day=DAY)}
    assert sums == {"192.0.2.10": (40, 40), "198.51.100.7": (5, 0)}


def test_multipart_upload_works_like_the_raw_body(api, acme_domain):
    response = api.post_file(URL, gzipped(_report()), filename="google.com!acme.test.xml.gz")
    assert response.status_code == 201, response.content
    assert Report.objects.get(pk=response.json()["id"]).messages == 45


def test_the_same_report_twice_counts_once(api, acme_domain):
    first = api.post_raw(URL, _report())
    # The same report again, packed differently (a reporter resending it zipped).
    second = api.post_raw(URL, zipped(_report()))
    assert first.status_code == 201 and second.status_code == 200
    assert second.json()["status"] == "duplicate"
    assert second.json()["id"] == first.json()["id"]
    assert DailySource.objects.get(source_ip="192.0.2.10").messages == 40


def test_two_reports_of_one_day_add_up(api, acme_domain):
    api.post_raw(URL, _report("r-1"))
    api.post_raw(
        URL,
        aggregate_xml(
            domain="acme.test",
            rows=[Row("192.0.2.10", 7)],
            day=DAY,
            reporter="outlook.com",
            report_id="ms-1",
        ),
    )
    assert DailySource.objects.get(source_ip="192.0.2.10").messages == 47


def test_a_tls_report_is_taken(api, acme_domain):
    response = api.post_raw(
        URL, gzipped(tls_json(domain="acme.test", day=DAY, successful=90, failed=3))
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "tls" and body["messages"] == 93 and body["failed"] == 3
    assert Report.objects.get(pk=body["id"]).details[0]["failure_details"][0]["result_type"] == (
        "certificate-expired"
    )


@pytest.mark.parametrize(
    "name,body,code,words",
    [
        ("xml bomb", XML_BOMB, "report_invalid", "DOCTYPE"),
        ("wrong schema", WRONG_SCHEMA, "report_invalid", "RFC 7489"),
        ("broken zip", broken_zip(), "report_unreadable", "zip"),
        ("not xml", b"hello, this is not a report", "report_unreadable", "not a DMARC"),
        ("cut short", _report()[:-40], "report_invalid", "not well-formed"),
        ("cut short gzip", gzipped(_report())[:-30], "report_unreadable", "gzip"),
        ("empty", b"", "report_invalid", "empty"),
    ],
)
def test_hostile_or_broken_files_are_refused_with_a_reason(
    api, acme_domain, name, body, code, words
):
    response = api.post_raw(URL, body)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == code
    assert words.lower() in response.json()["message"].lower()
    assert not Report.objects.exists()
    assert ReportRefusal.objects.get().code == code


def test_a_fifty_megabyte_file_is_refused_and_the_next_report_still_goes_in(api, acme_domain):
    response = api.post_raw(URL, fifty_megabytes())
    assert response.status_code == 422
    assert response.json()["code"] == "report_too_large"
    assert "52.4 MB" in response.json()["message"]
    # As multipart too.
    response = api.post_file(URL, gzipped(fifty_megabytes()) + b"x" * 11_000_000)
    assert response.status_code == 422 and response.json()["code"] == "report_too_large"
    assert api.post_raw(URL, _report()).status_code == 201


def test_a_small_gzip_that_unpacks_huge_is_refused(api, acme_domain, settings):
    settings.MAILHERD_DMARC_MAX_UNPACKED_BYTES = 5_000_000
    response = api.post_raw(URL, gzipped(fifty_megabytes()))
    assert response.status_code == 422 and response.json()["code"] == "report_too_large"
    assert "unpacks" in response.json()["message"]


def test_a_report_about_another_domain_is_refused(api, acme_domain):
    response = api.post_raw(
        URL, aggregate_xml(domain="globex.test", rows=[Row("192.0.2.1", 1)], day=DAY)
    )
    assert response.status_code == 422
    assert response.json()["code"] == "report_wrong_domain"
    assert "globex.test" in response.json()["message"]


def test_a_subdomain_report_belongs_to_the_domain(api, acme_domain):
    body = aggregate_xml(domain="news.acme.test", rows=[Row("192.0.2.1", 1)], day=DAY)
    assert api.post_raw(URL, body).status_code == 201


def test_another_organizations_domain_is_404(api, acme_domain, globex_domain):
    body = aggregate_xml(domain="globex.test", rows=[Row("192.0.2.1", 1)], day=DAY)
    response = api.post_raw("/domains/globex.test/dmarc-reports", body)
    assert response.status_code == 404
    assert api.get("/domains/globex.test/dmarc").status_code == 404
    assert not Report.objects.exists() and not ReportRefusal.objects.exists()
