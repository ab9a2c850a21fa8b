"""Sign-up → verify email → create organization → dashboard, through the real views."""

import re

import pytest
from django.core import mail

from mailherd.tenancy.models import Membership, User
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def _confirmation_link() -> str:
    return re.search(r"https?://[^\s]+/accounts/confirm-email/[^\s]+/", mail.outbox[-1].body).group(0)


def test_sign_up_verify_create_organization_and_see_the_dashboard(client):
    # given a new visitor who signs up
    response = client.post(
        "/accounts/signup/", {"email": "new@startup.test", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    # when they follow the emailed link and confirm
    link = _confirmation_link()
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200
    response = client.post("/" + path, follow=True)
    # then they are signed in and asked to create their organization
    assert response.redirect_chain[-1][0] == "/portal/new-organization/"
    response = client.post("/portal/new-organization/", {"name": "Startup Ltd"}, follow=True)
    assert response.redirect_chain[-1][0] == "/o/startup-ltd/"
    assert b"Startup Ltd" in response.content and b"Starter" in response.content
    user = User.objects.get(email="new@startup.test")
    assert Membership.objects.get(user=user).role == "owner"


def test_unverified_users_cannot_sign_in(client):
    client.post("/accounts/signup/", {"email": "slow@startup.test", "password1": PASSWORD, "password2": PASSWORD})
    client.logout()
    response = client.post("/accounts/login/", {"login": "slow@startup.test", "password": PASSWORD})
    assert response.status_code == 302 and "confirm-email" in response["Location"]
    assert client.get("/portal/").status_code == 302


def test_duplicate_email_creates_nothing_and_tells_the_address_owner(client):
    # The page does not reveal that the address has an account (enumeration);
    # the clear message goes to the mailbox of the person who owns it.
    make_user("taken@startup.test")
    response = client.post(
        "/accounts/signup/", {"email": "Taken@startup.test", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    assert User.objects.filter(email__iexact="taken@startup.test").count() == 1
    assert mail.outbox[-1].to == ["taken@startup.test"]
    assert "already" in mail.outbox[-1].subject.lower() or "already" in mail.outbox[-1].body.lower()


@pytest.mark.parametrize("password,message", [("short", b"too short"), ("1234567890123", b"entirely numeric"), ("password1234", b"too common")])
def test_weak_passwords_are_refused(client, password, message):
    response = client.post("/accounts/signup/", {"email": "weak@startup.test", "password1": password, "password2": password})
    assert response.status_code == 200
    assert message in response.content
    assert not User.objects.filter(email="weak@startup.test").exists()


@pytest.mark.parametrize("name,message", [("", b"Give your organization a name"), ("y" * 101, b"at most 100 characters")])
def test_bad_organization_names_show_an_error(client, name, message):
    client.force_login(make_user("org@startup.test"))
    response = client.post("/portal/new-organization/", {"name": name})
    assert response.status_code == 200
    assert message in response.content
    assert not Membership.objects.exists()


def test_password_reset_sends_a_link(client):
    make_user("forgot@startup.test")
    response = client.post("/accounts/password/reset/", {"email": "forgot@startup.test"})
    assert response.status_code == 302
    assert "/accounts/password/reset/key/" in mail.outbox[-1].body
