"""The webhooks API: the shapes scripts depend on, plain errors, and tenant isolation."""

import pytest

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.webhooks.delivery import deliveries_run
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db


def _auth(organization):
    token = api_token_create(actor=Actor.system(), organization=organization, name="script")[1]
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def acme_auth(tenants):
    return _auth(tenants.acme)


def _post(client, path, body, auth):
    return client.post(path, body, content_type="application/json", **auth)


def test_register_list_change_delete(client, tenants, acme_auth, receiver):
    created = _post(
        client,
        "/api/v1/webhooks",
        {"url": receiver.url, "events": ["mailbox.created", "domain.verified"]},
        acme_auth,
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert isinstance(body["id"], int)
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["mailbox.created", "domain.verified"] and body["enabled"] is True
    webhook_id = body["id"]

    listed = client.get("/api/v1/webhooks", **acme_auth).json()
    assert listed["count"] == 1 and listed["next_cursor"] is None
    assert listed["items"][0]["id"] == webhook_id and "secret" not in listed["items"][0]

    got = client.get(f"/api/v1/webhooks/{webhook_id}", **acme_auth)
    assert got.status_code == 200 and "secret" not in got.json()

    patched = client.patch(
        f"/api/v1/webhooks/{webhook_id}",
        {"events": ["mailbox.deleted"], "enabled": False},
        content_type="application/json",
        **acme_auth,
    )
    assert patched.status_code == 200
    assert patched.json()["events"] == ["mailbox.deleted"] and patched.json()["enabled"] is False

    assert client.delete(f"/api/v1/webhooks/{webhook_id}", **acme_auth).status_code == 204
    assert client.get(f"/api/v1/webhooks/{webhook_id}", **acme_auth).status_code == 404


def test_deliveries_log_and_send_again(client, tenants, acme_auth, receiver):
    body = _post(
        client, "/api/v1/webhooks", {"url": receiver.url, "events": ["domain.verified"]}, acme_auth
    ).json()
    receiver.secret = body["secret"]
    receiver.answers = [500]
    verified_domain(tenants.acme, "acme.test")
    deliveries_run()
    page = client.get(f"/api/v1/webhooks/{body['id']}/deliveries", **acme_auth).json()
    assert page["count"] == 1
    [delivery] = page["items"]
    assert delivery["event_type"] == "domain.verified" and delivery["status"] == "pending"
    assert delivery["attempt_log"][0]["status_code"] == 500
    assert delivery["payload"]["data"]["name"] == "acme.test"

    again = _post(
        client, f"/api/v1/webhooks/{body['id']}/deliveries/{delivery['id']}/resend", {}, acme_auth
    )
    assert again.status_code == 202 and again.json()["event_id"] == delivery["event_id"]
    deliveries_run()
    assert [e["type"] for e in receiver.received] == ["domain.verified"]
    failed_only = client.get(
        f"/api/v1/webhooks/{body['id']}/deliveries?status=succeeded", **acme_auth
    ).json()
    assert failed_only["count"] == 1


def test_test_event(client, tenants, acme_auth, receiver):
    body = _post(
        client, "/api/v1/webhooks", {"url": receiver.url, "events": ["mailbox.created"]}, acme_auth
    ).json()
    receiver.secret = body["secret"]
    assert _post(client, f"/api/v1/webhooks/{body['id']}/test", {}, acme_auth).status_code == 202
    deliveries_run()
    assert [e["type"] for e in receiver.received] == ["webhook.test"]


@pytest.mark.parametrize(
    "payload,code",
    [
        ({"url": "https://127.0.0.1/hook", "events": ["mailbox.created"]}, "target_not_allowed"),
        ({"url": "https://10.0.0.1/hook", "events": ["mailbox.created"]}, "target_not_allowed"),
        ({"url": "http://8.8.8.8/hook", "events": ["mailbox.created"]}, "target_not_allowed"),
        ({"url": "https://8.8.8.8/hook", "events": ["mailbox.exploded"]}, "invalid"),
        ({"url": "https://8.8.8.8/hook", "events": []}, "invalid"),
        ({"url": "https://8.8.8.8/hook"}, "invalid"),
    ],
)
def test_bad_registrations_are_refused_in_words(client, tenants, acme_auth, payload, code):
    response = _post(client, "/api/v1/webhooks", payload, acme_auth)
    assert response.status_code == 422
    assert response.json()["code"] == code
    assert response.json()["message"]


def test_another_organizations_webhooks_are_404(client, tenants, acme_auth, receiver):
    body = _post(
        client, "/api/v1/webhooks", {"url": receiver.url, "events": ["mailbox.created"]}, acme_auth
    ).json()
    globex = _auth(tenants.globex)
    assert client.get("/api/v1/webhooks", **globex).json()["count"] == 0
    assert client.get(f"/api/v1/webhooks/{body['id']}", **globex).status_code == 404
    assert client.get(f"/api/v1/webhooks/{body['id']}/deliveries", **globex).status_code == 404
    assert client.delete(f"/api/v1/webhooks/{body['id']}", **globex).status_code == 404
    patch = client.patch(
        f"/api/v1/webhooks/{body['id']}",
        {"enabled": False},
        content_type="application/json",
        **globex,
    )
    assert patch.status_code == 404
    assert client.get(f"/api/v1/webhooks/{body['id']}", **acme_auth).json()["enabled"] is True


def test_portal_shows_the_secret_once_and_the_log(alice_client, tenants, receiver):
    response = alice_client.post(
        "/o/acme/webhooks/",
        {"url": receiver.url, "events": ["mailbox.created"], "description": "CRM"},
    )
    assert response.status_code == 302
    page = alice_client.get(response["Location"])
    secret = page.context["new_secret"]
    assert secret.startswith("whsec_") and secret in page.content.decode()
    assert 'data-copy="whsec_' in page.content.decode()
    assert secret not in alice_client.get(response["Location"]).content.decode()
    alice_client.post(response["Location"] + "action/", {"action": "test"})
    receiver.secret = secret
    deliveries_run()
    page = alice_client.get(response["Location"]).content.decode()
    assert "webhook.test" in page and "delivered" in page


def test_portal_is_404_for_outsiders(client, tenants, receiver):
    from mailherd.webhooks.services import endpoint_create

    endpoint, _ = endpoint_create(
        actor=Actor.system(),
        organization=tenants.acme,
        url=receiver.url,
        events=["mailbox.created"],
    )
    client.force_login(tenants.bob)
    assert client.get(f"/o/acme/webhooks/{endpoint.pk}/").status_code == 404
    assert client.get(f"/o/globex/webhooks/{endpoint.pk}/").status_code == 404
    assert (
        client.post(f"/o/globex/webhooks/{endpoint.pk}/action/", {"action": "delete"}).status_code
        == 404
    )
