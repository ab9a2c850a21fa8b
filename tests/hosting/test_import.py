import csv

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mailherd.hosting.models import Mailbox, ProvisioningOp
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db

CSV = """address,name,quota_mb,password
ann@acme.test,Ann,100,
bob@acme.test,Bob,200,Bob-strong-pass-1
bad address@acme.test,Bad,10,
carl@other.test,Carl,10,
bob@acme.test,Bob again,10,
dee@acme.test,Dee,99999,
"""


@pytest.fixture
def csv_file(tmp_path, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    path = tmp_path / "mailboxes.csv"
    path.write_text(CSV)
    return path


def test_import_creates_good_rows_and_reports_refused_ones(csv_file, tmp_path, capsys):
    report = tmp_path / "report.csv"
    call_command("import_mailboxes", "--org", "acme", str(csv_file), "--report", str(report))
    out = capsys.readouterr().out
    assert "2 mailboxes created, 4 refused (of 6 rows)" in out
    assert "line 4: bad address@acme.test" in out
    assert "line 5: carl@other.test: other.test is not one of your domains" in out
    assert "line 6: bob@acme.test: bob@acme.test is already a mailbox" in out
    assert "line 7: dee@acme.test" in out and "storage" in out
    assert set(Mailbox.objects.values_list("address", flat=True)) == {"ann@acme.test", "bob@acme.test"}
    rows = {row["address"]: row for row in csv.DictReader(report.open())}
    assert len(rows["ann@acme.test"]["password"]) >= 20  # generated, kept in the report
    assert rows["bob@acme.test"]["password"] == ""  # given by the customer, not echoed


def test_dry_run_checks_everything_and_creates_nothing(csv_file, capsys):
    call_command("import_mailboxes", "--org", "acme", str(csv_file), "--dry-run")
    assert "2 mailboxes would be created, 4 refused" in capsys.readouterr().out
    assert not Mailbox.objects.exists() and not ProvisioningOp.objects.filter(kind="mailbox.create").exists()


def test_the_plan_limit_applies_to_imports(tenants, mail_server, tmp_path, capsys):
    verified_domain(tenants.acme, "acme.test")
    path = tmp_path / "many.csv"
    path.write_text("address\n" + "".join(f"u{n}@acme.test\n" for n in range(12)))
    call_command("import_mailboxes", "--org", "acme", str(path))
    out = capsys.readouterr().out
    assert "10 mailboxes created, 2 refused" in out and "plan allows 10" in out


def test_a_file_without_an_address_column_is_refused(tenants, tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("email,name\na@acme.test,A\n")
    with pytest.raises(CommandError, match="header row"):
        call_command("import_mailboxes", "--org", "acme", str(path))
