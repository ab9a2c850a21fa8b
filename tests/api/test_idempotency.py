"""Idempotency-Key: a retried POST answers the first result and changes nothing more."""

import pytest

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.core.models import AuditEvent
from mailherd.hosting.models import Mailbox, ProvisioningOp
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db


@pytest.fixture
def auth(tenants):
    verified_domain(tenants.acme, "acme.test")
    token = api_token_create(actor=Actor.system(), organization=tenants.acme, name="hr-sync")[1]
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _post(client, body, auth, key, path="/api/v1/mailboxes"):
    return client.post(
        path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key, **auth
    )


def test_the_same_post_twice_with_one_key_creates_one_mailbox(client, tenants, auth):
    body = {"address": "new.hire@acme.test", "quota_mb": 100}
    first = _post(client, body, auth, "hire-42")
    assert first.status_code == 201
    generated = first.json()["password"]
    audits, ops = AuditEvent.objects.count(), ProvisioningOp.objects.count()

    again = _post(client, {"quota_mb": 100, "address": "new.hire@acme.test"}, auth, "hire-42")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and again.json()["password"] == generated
    assert Mailbox.objects.filter(address="new.hire@acme.test").count() == 1
    assert (AuditEvent.objects.count(), ProvisioningOp.objects.count()) == (audits, ops)


def test_a_different_body_with_the_same_key_is_refused(client, tenants, auth):
    assert _post(client, {"address": "a@acme.test", "quota_mb": 100}, auth, "k1").status_code == 201
    reused = _post(client, {"address": "b@acme.test", "quota_mb": 100}, auth, "k1")
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert not Mailbox.objects.filter(address="b@acme.test").exists()


def test_an_error_answer_is_replayed_too(client, tenants, auth):
    body = {"address": "a@nope.test", "quota_mb": 100}
    first = _post(client, body, auth, "k2")
    assert first.status_code == 404
    assert _post(client, body, auth, "k2").json() == first.json()


def test_without_a_key_each_post_runs(client, tenants, auth):
    body = {"address": "c@acme.test", "quota_mb": 100}
    assert (
        client.post("/api/v1/mailboxes", body, content_type="application/json", **auth).status_code
        == 201
    )
    again = client.post("/api/v1/mailboxes", body, content_type="application/json", **auth)
    assert again.status_code == 409 and again.json()["code"] == "address_in_use"


def test_keys_belong_to_one_organization(client, tenants, auth):
    verified_domain(tenants.globex, "globex.test")
    globex = {
        "HTTP_AUTHORIZATION": f"Bearer {api_token_create(actor=Actor.system(), organization=tenants.globex, name='g')[1]}"
    }
    assert (
        _post(client, {"address": "a@acme.test", "quota_mb": 100}, auth, "shared").status_code
        == 201
    )
    other = _post(client, {"address": "a@globex.test", "quota_mb": 100}, globex, "shared")
    assert other.status_code == 201 and other.json()["address"] == "a@globex.test"


def test_a_malformed_key_is_400(client, tenants, auth):
    response = _post(client, {"address": "a@acme.test"}, auth, "x" * 300)
    assert response.status_code == 400 and response.json()["code"] == "bad_request"


def test_the_stored_answer_is_encrypted(client, tenants, auth):
    from django.db import connection

    first = _post(client, {"address": "d@acme.test", "quota_mb": 100}, auth, "k3")
    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM api_idempotencyrecord")
        stored = cursor.fetchone()[0]
    assert first.json()["password"] not in stored
