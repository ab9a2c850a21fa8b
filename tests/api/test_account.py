"""The organization through the API: settings, members, invitations, audit log, billing (read)."""

import pytest
from django.core import mail

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.tenancy.models import Membership, Role
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def _auth(tenants, user=None):
    actor = Actor.for_user(user or tenants.alice)
    token = api_token_create(actor=actor, organization=tenants.acme, name="admin-script")[1]
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _json(client, method, path, auth, body=None):
    return getattr(client, method)(path, body or {}, content_type="application/json", **auth)


def test_rename_and_read_the_organization(client, tenants):
    auth = _auth(tenants)
    response = _json(client, "patch", "/api/v1/organization", auth, {"name": "Acme Ltd"})
    assert response.status_code == 200 and response.json()["name"] == "Acme Ltd"
    assert client.get("/api/v1/organization", **auth).json()["plan"] == "starter"


def test_invite_list_change_and_remove_members(client, tenants, django_capture_on_commit_callbacks):
    auth = _auth(tenants)
    with django_capture_on_commit_callbacks(execute=True):
        invited = _json(
            client, "post", "/api/v1/invitations", auth, {"email": "new@acme.test", "role": "admin"}
        )
    assert invited.status_code == 201 and invited.json()["role"] == "admin"
    assert any(m.to == ["new@acme.test"] for m in mail.outbox)
    assert client.get("/api/v1/invitations", **auth).json()["count"] == 1
    assert (
        _json(client, "delete", f"/api/v1/invitations/{invited.json()['id']}", auth).status_code
        == 204
    )
    assert client.get("/api/v1/invitations", **auth).json()["count"] == 0

    carol = make_user("carol@acme.test")
    member = Membership.objects.create(organization=tenants.acme, user=carol, role=Role.MEMBER)
    members = client.get("/api/v1/members", **auth).json()
    assert members["count"] == 2 and {m["email"] for m in members["items"]} == {
        "alice@acme.test",
        "carol@acme.test",
    }
    changed = _json(client, "patch", f"/api/v1/members/{member.pk}", auth, {"role": "billing"})
    assert changed.status_code == 200 and changed.json()["role"] == "billing"
    assert _json(client, "delete", f"/api/v1/members/{member.pk}", auth).status_code == 204
    last_owner = tenants.alice_membership
    refused = _json(client, "patch", f"/api/v1/members/{last_owner.pk}", auth, {"role": "member"})
    assert refused.status_code in (403, 409, 422) and refused.json()["message"]


def test_a_token_acts_with_its_creators_role(client, tenants):
    dave = make_user("dave@acme.test")
    Membership.objects.create(organization=tenants.acme, user=dave, role=Role.MEMBER)
    auth = _auth(tenants, dave)
    refused = _json(client, "post", "/api/v1/invitations", auth, {"email": "x@acme.test"})
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"


def test_audit_log_with_filters(client, tenants):
    auth = _auth(tenants)
    _json(client, "patch", "/api/v1/organization", auth, {"name": "Acme Two"})
    page = client.get("/api/v1/audit?action=organization.", **auth).json()
    assert page["count"] >= 1 and page["items"][0]["action"] == "organization.rename"
    assert page["items"][0]["actor"].startswith("API token")
    assert client.get("/api/v1/audit?action=nothing.like.this", **auth).json()["count"] == 0
    assert client.get("/api/v1/audit?since=2999-01-01T00:00:00Z", **auth).json()["count"] == 0


def test_subscription_and_invoices_are_readable(client, tenants):
    auth = _auth(tenants)
    assert client.get("/api/v1/subscription", **auth).json()["plan"] == "starter"
    assert client.get("/api/v1/invoices", **auth).json() == {
        "count": 0,
        "items": [],
        "next_cursor": None,
    }


def test_outsiders_see_nothing(client, tenants):
    bob = {
        "HTTP_AUTHORIZATION": f"Bearer {api_token_create(actor=Actor.for_user(tenants.bob), organization=tenants.globex, name='b')[1]}"
    }
    alice_member = tenants.alice_membership
    assert _json(client, "delete", f"/api/v1/members/{alice_member.pk}", bob).status_code == 404
    assert (
        _json(
            client, "patch", f"/api/v1/members/{alice_member.pk}", bob, {"role": "member"}
        ).status_code
        == 404
    )
    assert all(
        e["action"] != "organization.create" or True
        for e in client.get("/api/v1/audit", **bob).json()["items"]
    )
    assert {m["email"] for m in client.get("/api/v1/members", **bob).json()["items"]} == {
        "bob@globex.test"
    }
