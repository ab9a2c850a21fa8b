import pytest
from django.core import mail

from mailherd.api.models import ApiToken
from mailherd.tenancy.models import Invitation, Membership
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

ORG_PAGES = ["/o/{slug}/", "/o/{slug}/settings/", "/o/{slug}/members/", "/o/{slug}/api-tokens/"]


def test_landing_page_shows_plans_and_prices(client, db):
    response = client.get("/")
    assert response.status_code == 200
    for text in (b"Starter", b"Business", b"Enterprise", b"9.00"):
        assert text in response.content


@pytest.mark.parametrize("page", ORG_PAGES)
def test_members_see_their_organization_pages(alice_client, tenants, page):
    response = alice_client.get(page.format(slug=tenants.acme.slug))
    assert response.status_code == 200
    assert b"Acme" in response.content


@pytest.mark.parametrize("page", ORG_PAGES)
def test_an_outsider_gets_404_on_another_organizations_pages(alice_client, tenants, page):
    response = alice_client.get(page.format(slug=tenants.globex.slug))
    assert response.status_code == 404
    assert b"Globex" not in response.content


def test_an_outsider_cannot_post_to_another_organization(alice_client, tenants):
    bob_membership = Membership.objects.get(user=tenants.bob)
    url = f"/o/{tenants.globex.slug}/members/{bob_membership.pk}/remove/"
    assert alice_client.post(url).status_code == 404
    assert alice_client.post(f"/o/{tenants.globex.slug}/members/", {"email": "x@y.test", "role": "owner"}).status_code == 404
    assert Membership.objects.filter(pk=bob_membership.pk).exists()
    assert not Invitation.objects.exists()


def test_anonymous_visitors_are_sent_to_login(client, tenants):
    response = client.get(f"/o/{tenants.acme.slug}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_switching_organizations_remembers_the_last_one(client, tenants):
    # alice also joins Globex
    Membership.objects.create(organization=tenants.globex, user=tenants.alice, role="member")
    client.force_login(tenants.alice)
    client.get(f"/o/{tenants.globex.slug}/")
    response = client.get("/portal/")
    assert response["Location"] == f"/o/{tenants.globex.slug}/"
    page = client.get(f"/o/{tenants.globex.slug}/")
    assert b"Acme" in page.content  # the switcher lists both


def test_rename_organization(alice_client, tenants):
    response = alice_client.post(f"/o/{tenants.acme.slug}/settings/", {"name": "Acme Rockets"}, follow=True)
    assert b"Settings saved" in response.content
    tenants.acme.refresh_from_db()
    assert tenants.acme.name == "Acme Rockets"


def test_invite_flow_through_the_pages(alice_client, tenants, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            f"/o/{tenants.acme.slug}/members/", {"email": "kim@acme.test", "role": "admin"}, follow=True
        )
    assert b"Invitation sent to kim@acme.test" in response.content
    link = [line for line in mail.outbox[-1].body.split() if "/invitations/" in line][0]
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    kim = make_user("kim@acme.test")
    alice_client.logout()
    alice_client.force_login(kim)
    assert b"Accept invitation" in alice_client.get(path).content
    response = alice_client.post(path, follow=True)
    assert response.redirect_chain[-1][0] == f"/o/{tenants.acme.slug}/"
    # the same link a second time
    response = alice_client.get(path)
    assert response.status_code == 410 and b"already been used" in response.content


def test_inviting_an_existing_member_shows_an_error(alice_client, tenants):
    response = alice_client.post(f"/o/{tenants.acme.slug}/members/", {"email": "alice@acme.test", "role": "member"})
    assert b"already a member" in response.content


def test_api_token_is_shown_once_and_can_be_revoked(alice_client, tenants):
    response = alice_client.post(f"/o/{tenants.acme.slug}/api-tokens/", {"name": "ci script", "access": "full"})
    token_text = response.context["new_token"]
    assert token_text.startswith("mh_") and token_text.encode() in response.content
    token = ApiToken.objects.get(organization=tenants.acme)
    assert token_text.split("_", 2)[2] not in token.token_hash  # only the hash is stored
    listing = alice_client.get(f"/o/{tenants.acme.slug}/api-tokens/")
    assert token_text.encode() not in listing.content and f"mh_{token.prefix}_".encode() in listing.content
    alice_client.post(f"/o/{tenants.acme.slug}/api-tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_an_outsider_cannot_revoke_another_organizations_token(alice_client, tenants, client):
    from mailherd.api.services import api_token_create
    from mailherd.core.actors import Actor

    token, _ = api_token_create(actor=Actor.for_user(tenants.bob), organization=tenants.globex, name="bob's")
    assert alice_client.post(f"/o/{tenants.acme.slug}/api-tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is None
