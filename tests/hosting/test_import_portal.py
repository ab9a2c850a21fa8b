"""Mailbox CSV import (with progress) and export in the portal, over the CLI's import service."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.models import Mailbox
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db

CSV = """address,name,quota_mb,password
ann@acme.test,Ann,100,
bob@acme.test,Bob,200,Bob-strong-pass-1
bad address@acme.test,Bad,10,
carl@other.test,Carl,10,
"""


def upload(client, text: str, slug: str = "acme"):
    return client.post(
        f"/o/{slug}/mailboxes/import/",
        {"file": SimpleUploadedFile("m.csv", text.encode(), content_type="text/csv")},
    )


def step(client, at: int):
    return client.post(
        "/o/acme/mailboxes/import/progress/", {"at": str(at)}, HTTP_HX_REQUEST="true"
    )


def test_import_runs_in_steps_shows_refusals_and_gives_the_report_once(
    alice_client, tenants, mail_server, settings
):
    verified_domain(tenants.acme, "acme.test")
    settings.DEBUG = False
    response = upload(alice_client, CSV)
    assert (
        response.status_code == 302 and response["Location"] == "/o/acme/mailboxes/import/progress/"
    )
    page = alice_client.get("/o/acme/mailboxes/import/progress/").content.decode()
    assert "0 of 4 rows checked" in page and 'hx-trigger="load' in page
    assert not Mailbox.objects.exists()  # nothing until the first step
    done = step(alice_client, 0).content.decode()
    assert "4 of 4 rows checked" in done and "2 mailboxes created, 2 refused." in done
    assert (
        "A domain name cannot contain spaces." not in done
    )  # the address message is about the local part
    assert "An address cannot contain spaces." in done
    assert "other.test is not one of your domains" in done
    assert "1 password was generated" in done
    # a repeated step (double click, second tab) does nothing more
    step(alice_client, 0)
    assert set(Mailbox.objects.values_list("address", flat=True)) == {
        "ann@acme.test",
        "bob@acme.test",
    }
    report = alice_client.get("/o/acme/mailboxes/import/report.csv")
    rows = {row["address"]: row for row in csv.DictReader(io.StringIO(report.content.decode()))}
    assert (
        rows["ann@acme.test"]["result"] == "created"
        and len(rows["ann@acme.test"]["password"]) >= 20
    )
    assert rows["bob@acme.test"]["password"] == ""  # given by the customer: never echoed
    assert rows["carl@other.test"]["result"] == "refused"
    assert alice_client.get("/o/acme/mailboxes/import/report.csv").status_code == 404  # once


def test_the_session_keeps_no_password_in_clear(alice_client, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    upload(alice_client, CSV)
    assert "Bob-strong-pass-1" not in str(dict(alice_client.session))


def test_a_big_import_moves_in_chunks(alice_client, tenants, mail_server, settings):
    from mailherd.hosting.services import imports

    settings.DEBUG = False
    verified_domain(tenants.acme, "acme.test")
    imports_chunk = imports.CHUNK
    imports.CHUNK = 3
    try:
        upload(alice_client, "address\n" + "".join(f"u{n}@acme.test\n" for n in range(8)))
        first = step(alice_client, 0).content.decode()
        assert "3 of 8 rows checked" in first and 'hx-vals=\'{"at": "3"}\'' in first
        step(alice_client, 3)
        last = step(alice_client, 6).content.decode()
        assert "8 of 8 rows checked" in last and "8 mailboxes created, 0 refused." in last
    finally:
        imports.CHUNK = imports_chunk


@pytest.mark.parametrize(
    "text,message",
    [
        ("email,name\na@acme.test,A\n", "The CSV needs a header row with at least"),
        ("address\n", "The CSV has a header but no rows."),
    ],
)
def test_a_bad_file_is_explained_on_the_file_field(alice_client, tenants, text, message):
    html = upload(alice_client, text).content.decode()
    assert message in html and 'class="field has-error"' in html


def test_no_file_and_a_non_utf8_file_are_explained(alice_client, tenants):
    html = alice_client.post("/o/acme/mailboxes/import/", {}).content.decode()
    assert "Choose a CSV file to import." in html
    response = alice_client.post(
        "/o/acme/mailboxes/import/",
        {"file": SimpleUploadedFile("m.csv", "address\nä@x\n".encode("latin-1"))},
    )
    assert "Save the file as CSV with UTF-8 encoding" in response.content.decode()


def test_export_lists_the_organizations_mailboxes_only(alice_client, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    verified_domain(tenants.globex, "globex.test")
    system = Actor.system()
    services.mailbox_create(
        actor=system,
        organization=tenants.acme,
        address="ann@acme.test",
        quota_mb=100,
        name="=HYPERLINK(1)",
    )
    services.mailbox_create(
        actor=system, organization=tenants.globex, address="gus@globex.test", quota_mb=100
    )
    response = alice_client.get("/o/acme/mailboxes/export.csv")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [row["address"] for row in rows] == ["ann@acme.test"]
    assert rows[0]["name"] == "'=HYPERLINK(1)" and rows[0]["quota_mb"] == "100"
    # an export imports back (same first columns)
    assert set(rows[0]) >= {"address", "name", "quota_mb"}


def test_an_outsider_cannot_reach_another_organizations_import_or_export(alice_client, tenants):
    assert alice_client.get("/o/globex/mailboxes/export.csv").status_code == 404
    assert upload(alice_client, CSV, slug="globex").status_code == 404
    assert alice_client.get("/o/globex/mailboxes/import/progress/").status_code == 404


def test_a_member_cannot_import(client, tenants, mail_server):
    from mailherd.tenancy.models import Membership
    from tests.conftest import make_user

    verified_domain(tenants.acme, "acme.test")
    member = make_user("m@acme.test")
    Membership.objects.create(organization=tenants.acme, user=member, role="member")
    client.force_login(member)
    html = upload(client, CSV).content.decode()
    assert "Only owners and admins can change mail settings." in html
    assert not Mailbox.objects.exists()
