"""Reports by mail: fixtures built here, delivered into Debian's Dovecot, ingested by the IMAP
watcher, shown in the API and the portal with the right counts."""

from datetime import date, timedelta
from email.message import EmailMessage

import pytest

from mailherd.core.actors import Actor
from mailherd.deliverability.models import Report, ReportRefusal
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services.mailboxes import mailbox_create
from mailherd.imapwatch.models import FolderState
from mailherd.imapwatch.services import watch_refresh
from tests.deliverability.reports import (
    XML_BOMB,
    Row,
    aggregate_xml,
    broken_zip,
    gzipped,
    tls_json,
    zipped,
)
from tests.hosting.conftest import sim, verified_domain  # noqa: F401
from tests.imapwatch.conftest import WatcherThread, imap_server, wait_for  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
DOMAIN = "acme-reports.test"
DAY = date.today() - timedelta(days=1)


def report_mail(
    filename: str, content: bytes, content_type: str, subject: str, message_id: str
) -> bytes:
    message = EmailMessage()
    message["From"] = "noreply-dmarc-support@google.com"
    message["To"] = f"postmaster@{DOMAIN}"
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}>"
    message.set_content("This is an aggregate report.")
    maintype, subtype = content_type.split("/")
    message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


@pytest.fixture
def report_mailbox(tenants, imap_server, sim, dovecot):  # noqa: F811
    """postmaster@acme-reports.test: the default rua of the domain, so the watcher reads it."""
    domain = verified_domain(tenants.acme, DOMAIN)
    outbox_drain()
    mailbox, _ = mailbox_create(
        actor=Actor.for_user(tenants.alice),
        organization=tenants.acme,
        address=f"postmaster@{DOMAIN}",
        password="Str0ng-enough-pass",
        quota_mb=100,
    )
    outbox_drain()
    watch_refresh()
    outbox_drain()
    dovecot.sync_app_passwords(sim.state)
    return domain, mailbox


def test_reports_delivered_into_dovecot_are_ingested_and_shown(
    report_mailbox, dovecot, client, tenants
):
    domain, mailbox = report_mailbox
    google = aggregate_xml(
        domain=DOMAIN,
        rows=[Row("192.0.2.10", 120), Row("198.51.100.5", 30, spf=False, dkim=False)],
        day=DAY,
        reporter="google.com",
        report_id="g-1",
    )
    microsoft = aggregate_xml(
        domain=DOMAIN,
        rows=[Row("192.0.2.10", 50)],
        day=DAY,
        reporter="microsoft.com",
        report_id="m-1",
    )
    runner = WatcherThread().start()
    try:
        wait_for(lambda: FolderState.objects.filter(folder="INBOX").exists(), timeout=30)
        dovecot.deliver(
            mailbox.address,
            report_mail(
                f"google.com!{DOMAIN}!1.xml.gz",
                gzipped(google),
                "application/gzip",
                "Report domain: g",
                "g1@x",
            ),
        )
        dovecot.deliver(
            mailbox.address,
            report_mail(
                f"microsoft.com!{DOMAIN}!1.zip",
                zipped(microsoft),
                "application/zip",
                "Report domain: m",
                "m1@x",
            ),
        )
        # The same Google report again in another message: counted once.
        dovecot.deliver(
            mailbox.address, report_mail("again.xml", google, "text/xml", "Report again", "g2@x")
        )
        dovecot.deliver(
            mailbox.address,
            report_mail(
                "tls.json.gz",
                gzipped(tls_json(domain=DOMAIN, day=DAY, successful=500, failed=5)),
                "application/tlsrpt+gzip",
                "TLS",
                "t1@x",
            ),
        )
        dovecot.deliver(
            mailbox.address, report_mail("bomb.xml", XML_BOMB, "text/xml", "hostile 1", "h1@x")
        )
        dovecot.deliver(
            mailbox.address,
            report_mail("broken.zip", broken_zip(), "application/zip", "hostile 2", "h2@x"),
        )
        wait_for(
            lambda: Report.objects.count() == 3 and ReportRefusal.objects.count() == 2, timeout=60
        )
    finally:
        runner.stop()
    assert sorted(Report.objects.values_list("reporter", "received_via")) == [
        ("Google Inc.", "imap"),
        ("google.com", "imap"),
        ("microsoft.com", "imap"),
    ]
    assert sorted(ReportRefusal.objects.values_list("code", flat=True)) == [
        "report_invalid",
        "report_unreadable",
    ]

    from mailherd.api.services import api_token_create

    _token, plaintext = api_token_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="t"
    )
    body = client.get(
        f"/api/v1/domains/{DOMAIN}/dmarc?days=7", HTTP_AUTHORIZATION=f"Bearer {plaintext}"
    ).json()
    assert (body["messages"], body["aligned"], body["failed"]) == (200, 170, 30)
    assert {s["ip"]: s["messages"] for s in body["sources"]} == {
        "192.0.2.10": 170,
        "198.51.100.5": 30,
    }
    client.force_login(tenants.alice)
    page = client.get(f"/o/acme/domains/{DOMAIN}/deliverability/?days=7").content.decode()
    assert ">200<" in page and ">170<" in page and ">30<" in page
    assert "505 connections reported" in page and "bomb.xml" in page and "broken.zip" in page
