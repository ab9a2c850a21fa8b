"""Token scopes, expiry, last use: a token does what its scopes allow and nothing more."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailherd.api.models import ApiToken
from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch", "delete")


def _token(organization, **kwargs):
    return api_token_create(actor=Actor.system(), organization=organization, name="t", **kwargs)[1]


def _operations(client):
    schema = client.get("/api/v1/openapi.json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in ("get", *WRITE_METHODS):
                yield path, method, operation


def _fill(path: str, operation: dict) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            kind = parameter.get("schema", {}).get("type")
            path = path.replace(
                "{" + parameter["name"] + "}", "1" if kind == "integer" else "x@acme.test"
            )
    return path


def test_a_read_only_token_is_refused_on_every_write_endpoint(client, tenants):
    read_only = {"HTTP_AUTHORIZATION": f"Bearer {_token(tenants.acme, scopes=['*:read'])}"}
    walked = 0
    for path, method, operation in _operations(client):
        if method not in WRITE_METHODS:
            continue
        response = getattr(client, method)(
            _fill(path, operation), {}, content_type="application/json", **read_only
        )
        assert response.status_code == 403, (method, path, response.content)
        assert response.json()["code"] == "insufficient_scope", (method, path)
        walked += 1
    assert walked >= 10
    assert "403" in operation["responses"]


def test_a_read_only_token_reads(client, tenants):
    read_only = {"HTTP_AUTHORIZATION": f"Bearer {_token(tenants.acme, scopes=['*:read'])}"}
    for path, method, operation in _operations(client):
        if method == "get":
            response = client.get(_fill(path, operation), **read_only)
            assert response.status_code != 403, (path, response.content)
    assert client.get("/api/v1/domains", **read_only).json()["count"] == 0


def test_per_resource_scopes(client, tenants):
    auth = {
        "HTTP_AUTHORIZATION": f"Bearer {_token(tenants.acme, scopes=['domains:read', 'mailboxes:write'])}"
    }
    assert client.get("/api/v1/domains", **auth).status_code == 200
    refused = client.post(
        "/api/v1/domains", {"name": "acme.test"}, content_type="application/json", **auth
    )
    assert refused.status_code == 403
    assert refused.json()["needed"] == "domains:write"
    assert "domains:read, mailboxes:write" in refused.json()["message"]
    assert client.get("/api/v1/mailboxes", **auth).status_code == 200  # write includes read
    assert client.get("/api/v1/aliases", **auth).status_code == 403
    assert client.get("/api/v1/me", **auth).status_code == 200  # any token may ask who it is


def test_unknown_scopes_are_refused_in_words(tenants):
    with pytest.raises(ValidationFailed) as caught:
        _token(tenants.acme, scopes=["domains:delete"])
    assert "'domains:delete' is not a scope" in caught.value.message
    with pytest.raises(ValidationFailed):
        _token(tenants.acme, scopes=["spaceships:read"])


def test_an_expired_token_says_so(client, tenants):
    plaintext = _token(tenants.acme, expires_at=timezone.now() + timedelta(days=1))
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_last_use_time_and_address_are_kept(client, tenants):
    plaintext = _token(tenants.acme)
    client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {plaintext}", REMOTE_ADDR="203.0.113.9")
    token = ApiToken.objects.get()
    assert token.last_used_at is not None and token.last_used_ip == "203.0.113.9"


def test_portal_creates_a_read_only_expiring_token_with_a_copy_button(alice_client, tenants):
    response = alice_client.post(
        "/o/acme/api-tokens/", {"name": "reporting", "access": "read", "expires_in": "30"}
    )
    page = response.content.decode()
    token = ApiToken.objects.get()
    assert token.scopes == ["*:read"]
    assert abs((token.expires_at - timezone.now()) - timedelta(days=30)) < timedelta(minutes=1)
    assert 'class="dns-copy" data-copy="mh_' in page
    assert "Read only" in page
    response = alice_client.post(
        "/o/acme/api-tokens/",
        {
            "name": "provisioning",
            "access": "custom",
            "scopes": ["mailboxes:write", "domains:read"],
            "expires_in": "",
        },
    )
    assert ApiToken.objects.get(name="provisioning").scopes == ["mailboxes:write", "domains:read"]
    assert ApiToken.objects.get(name="provisioning").expires_at is None
    empty = alice_client.post(
        "/o/acme/api-tokens/", {"name": "x", "access": "custom", "expires_in": ""}
    )
    assert "at least one scope" in empty.content.decode()
