"""The outsider test on every hosting page and API endpoint: another organization's objects are 404."""

import pytest

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.models import Alias, Domain, Mailbox
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


@pytest.fixture
def globex_objects(tenants, mail_server):
    verified_domain(tenants.globex, "globex.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.globex, address="hank@globex.test", quota_mb=10
    )
    services.alias_create(
        actor=SYSTEM,
        organization=tenants.globex,
        address="sales@globex.test",
        goto=["hank@globex.test"],
    )
    return tenants


@pytest.fixture
def alice_token(tenants):
    return api_token_create(actor=SYSTEM, organization=tenants.acme, name="alice")[1]


API_CALLS = [
    ("get", "/api/v1/domains/globex.test", None),
    ("post", "/api/v1/domains/globex.test/verify", None),
    ("post", "/api/v1/domains/globex.test/check", None),
    ("delete", "/api/v1/domains/globex.test", None),
    ("get", "/api/v1/mailboxes/hank@globex.test", None),
    ("patch", "/api/v1/mailboxes/hank@globex.test", {"quota_mb": 5}),
    ("patch", "/api/v1/mailboxes/hank@globex.test", {"rate_limit": {"value": 1, "frame": "h"}}),
    ("patch", "/api/v1/domains/globex.test", {"rate_limit": {"value": 1, "frame": "h"}}),
    ("patch", "/api/v1/mailboxes/hank@globex.test", {"spam_score": {"low": 1, "high": 2}}),
    ("delete", "/api/v1/mailboxes/hank@globex.test", None),
    ("get", "/api/v1/aliases/sales@globex.test", None),
    ("patch", "/api/v1/aliases/sales@globex.test", {"active": False}),
    ("delete", "/api/v1/aliases/sales@globex.test", None),
]


@pytest.mark.parametrize("method,path,body", API_CALLS)
def test_api_answers_404_for_another_organizations_objects(
    client, globex_objects, alice_token, method, path, body
):
    response = getattr(client, method)(
        path, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {alice_token}"
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert Mailbox.objects.get(address="hank@globex.test").quota_mb == 10
    assert Mailbox.objects.get(address="hank@globex.test").rate_limit is None
    assert Domain.objects.get(name="globex.test").rate_limit is None
    assert Alias.objects.get(address="sales@globex.test").enabled
    assert Domain.objects.filter(name="globex.test").exists()


def test_api_lists_show_only_the_callers_objects(client, globex_objects, alice_token):
    for path in (
        "/api/v1/domains",
        "/api/v1/mailboxes",
        "/api/v1/aliases",
        "/api/v1/mailboxes?domain=globex.test",
    ):
        response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {alice_token}")
        assert response.status_code == 200
        assert response.json()["count"] == 0 and response.json()["items"] == []


def test_api_cannot_create_in_another_organizations_domain(client, globex_objects, alice_token):
    response = client.post(
        "/api/v1/mailboxes",
        {"address": "evil@globex.test", "quota_mb": 10},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {alice_token}",
    )
    assert response.status_code == 404
    assert not Mailbox.objects.filter(address="evil@globex.test").exists()


def test_api_without_token_is_401(client, db):
    for path in ("/api/v1/domains", "/api/v1/mailboxes", "/api/v1/aliases", "/api/v1/usage"):
        assert client.get(path).status_code == 401


PAGES = [
    ("get", "/o/{org}/domains/globex.test/"),
    ("post", "/o/{org}/domains/globex.test/verify/"),
    ("post", "/o/{org}/domains/globex.test/delete/"),
    ("get", "/o/{org}/mailboxes/hank@globex.test/"),
    ("post", "/o/{org}/mailboxes/hank@globex.test/"),
    ("post", "/o/{org}/mailboxes/hank@globex.test/password/"),
    ("post", "/o/{org}/mailboxes/hank@globex.test/delete/"),
    ("post", "/o/{org}/mailboxes/hank@globex.test/rate-limit/"),
    ("post", "/o/{org}/domains/globex.test/rate-limit/"),
    ("post", "/o/{org}/mailboxes/hank@globex.test/spam/"),
    ("post", "/o/{org}/domains/globex.test/relay/"),
    ("get", "/o/{org}/aliases/sales@globex.test/"),
    ("post", "/o/{org}/aliases/sales@globex.test/delete/"),
]


@pytest.mark.parametrize("method,page", PAGES)
def test_portal_answers_404_for_another_organizations_objects(
    alice_client, globex_objects, method, page
):
    # through Alice's own organization...
    assert (
        getattr(alice_client, method)(
            page.format(org="acme"), {"confirm": "globex.test"}
        ).status_code
        == 404
    )
    # ...and through Globex's address
    assert (
        getattr(alice_client, method)(
            page.format(org="globex"), {"confirm": "globex.test"}
        ).status_code
        == 404
    )
    assert Mailbox.objects.filter(address="hank@globex.test").exists()


@pytest.mark.parametrize(
    "page",
    [
        "/o/globex/domains/",
        "/o/globex/mailboxes/",
        "/o/globex/aliases/",
        "/o/globex/mailboxes/new/",
    ],
)
def test_portal_lists_of_another_organization_are_404(alice_client, globex_objects, page):
    assert alice_client.get(page).status_code == 404


def test_portal_lists_show_only_own_objects(alice_client, globex_objects):
    for page in (
        "/o/acme/domains/",
        "/o/acme/mailboxes/",
        "/o/acme/aliases/",
        "/o/acme/mailboxes/?q=hank",
    ):
        response = alice_client.get(page)
        assert response.status_code == 200
        assert b"globex.test" not in response.content
