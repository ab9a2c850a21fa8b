"""The audit trail: operators see all of it (filters, CSV), owners their own organization's."""

import csv
import io

import pytest

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.tenancy.models import Membership, Role
from mailherd.tenancy.services import organization_rename
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def _rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def history(tenants):
    organization_rename(
        actor=Actor.for_user(tenants.alice, ip="203.0.113.7"),
        membership=tenants.alice_membership,
        name="Acme Corp",
    )
    audit_record(
        actor=Actor.system(),
        action="mailbox.create",
        organization=tenants.globex,
        obj=tenants.globex,
    )


def test_operators_filter_and_export_the_audit_trail_as_csv(ops_client, tenants, history):
    listing = ops_client.get("/operator/core/auditevent/", {"action": "organization.rename"})
    assert (
        listing.status_code == 200
        and b"Acme Corp" in listing.content
        and b"audit-export-csv" in listing.content
    )
    response = ops_client.get(
        "/operator/core/auditevent/", {"action": "organization.rename", "export": "csv"}
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = _rows(response)
    assert rows[0][:5] == ["created_at", "organization", "actor_kind", "actor_label", "action"]
    assert [(r[1], r[3], r[4], r[7]) for r in rows[1:]] == [
        ("Acme Corp", "alice@acme.test", "organization.rename", "203.0.113.7")
    ]


def test_operators_filter_the_audit_trail_by_organization_and_actor_kind(
    ops_client, tenants, history
):
    response = ops_client.get(
        "/operator/core/auditevent/",
        {"organization__id__exact": tenants.globex.pk, "export": "csv"},
    )
    assert {row[4] for row in _rows(response)[1:]} == {"mailbox.create", "organization.create"}
    response = ops_client.get(
        "/operator/core/auditevent/", {"actor_kind": "system", "export": "csv"}
    )
    assert [row[4] for row in _rows(response)[1:]] == ["mailbox.create"]


def test_owners_see_their_organizations_audit_trail(alice_client, tenants, history):
    response = alice_client.get(f"/o/{tenants.acme.slug}/audit/")
    content = response.content.decode()
    assert response.status_code == 200
    assert (
        "organization.rename" in content
        and "203.0.113.7" in content
        and "alice@acme.test" in content
    )
    assert "mailbox.create" not in content  # Globex's event


def test_owners_filter_and_export_their_trail(alice_client, tenants, history):
    response = alice_client.get(
        f"/o/{tenants.acme.slug}/audit/", {"action": "organization.rename", "format": "csv"}
    )
    rows = _rows(response)
    assert [row[4] for row in rows[1:]] == ["organization.rename"]
    filtered = alice_client.get(f"/o/{tenants.acme.slug}/audit/", {"actor": "nobody"})
    assert b"Nothing recorded for this filter" in filtered.content


def test_an_outsider_gets_404_on_another_organizations_audit_trail(alice_client, tenants, history):
    response = alice_client.get(f"/o/{tenants.globex.slug}/audit/")
    assert response.status_code == 404
    assert b"mailbox.create" not in response.content
    assert alice_client.get(f"/o/{tenants.globex.slug}/audit/?format=csv").status_code == 404


@pytest.mark.parametrize("role", [Role.ADMIN, Role.BILLING, Role.MEMBER])
def test_members_who_are_not_owners_cannot_read_the_trail(client, tenants, history, role):
    carol = make_user(f"carol-{role}@acme.test")
    Membership.objects.create(organization=tenants.acme, user=carol, role=role)
    client.force_login(carol)
    response = client.get(f"/o/{tenants.acme.slug}/audit/")
    assert response.status_code == 403
    assert b"organization.rename" not in response.content
    assert client.get(f"/o/{tenants.acme.slug}/audit/?format=csv").status_code == 403


def test_an_operator_viewing_as_customer_shows_up_in_the_owners_trail(ops_client, tenants):
    from django.test import Client

    ops_client.get(f"/operator/view-as/{tenants.acme.pk}/")
    alice_client = Client()
    alice_client.force_login(tenants.alice)
    response = alice_client.get(f"/o/{tenants.acme.slug}/audit/")
    assert (
        b"organization.view_as_customer" in response.content
        and b"ops2fa@operator.test" in response.content
    )


@pytest.mark.parametrize("name", ['=HYPERLINK("http://evil")', "+1", "-2+3", "@SUM(A1)"])
def test_csv_cells_that_look_like_formulas_are_escaped(ops_client, tenants, name):
    organization_rename(
        actor=Actor.for_user(tenants.alice), membership=tenants.alice_membership, name=name
    )
    response = ops_client.get(
        "/operator/core/auditevent/", {"action": "organization.rename", "export": "csv"}
    )
    (row,) = _rows(response)[1:]
    assert row[1] == "'" + name
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)
