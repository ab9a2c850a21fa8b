"""The username of the platform address, chosen at sign-up (when the operator gives one)."""

import pytest

from mailherd.core.actors import Actor
from mailherd.hosting.services.platform import platform_domain_set, platform_username
from mailherd.tenancy.models import User
from tests.conftest import PASSWORD, make_org, make_user
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db


@pytest.fixture
def platform_domain():
    operator_org = make_org(make_user("postmaster@operator.test"), "Operator")
    domain = verified_domain(operator_org, "members.test")
    platform_domain_set(actor=Actor.system(), name="members.test")
    domain.refresh_from_db()
    return domain


def _sign_up(client, email: str, **extra):
    return client.post(
        "/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD, **extra}
    )


def test_without_a_platform_domain_sign_up_asks_no_username(client):
    page = client.get("/accounts/signup/")
    assert page.status_code == 200 and "mail_username" not in page.text


def test_the_chosen_username_becomes_the_platform_address(client, platform_domain):
    page = client.get("/accounts/signup/")
    assert "mail_username" in page.text and "@members.test" in page.text
    response = _sign_up(client, "jo@startup.test", full_name="Jo Bloggs", mail_username="Jo.B")
    assert response.status_code == 302
    user = User.objects.get(email="jo@startup.test")
    assert (user.full_name, user.mail_username) == ("Jo Bloggs", "jo.b")
    assert platform_username(user, platform_domain) == "jo.b"
    # without a choice: from the name
    other = make_user("kim@startup.test")
    other.full_name = "Kim Lee"
    assert platform_username(other, platform_domain) == "kim.lee"


@pytest.mark.parametrize("name,message", [("jo b", "spaces"), ("-jo", "starting and ending"), ("x" * 41, "at most")])
def test_a_bad_username_is_refused_in_plain_words(client, platform_domain, name, message):
    response = _sign_up(client, "jo@startup.test", mail_username=name)
    assert response.status_code == 200 and message in response.text
    assert not User.objects.filter(email="jo@startup.test").exists()


def test_a_taken_username_is_refused(client, platform_domain):
    taken = make_user("first@startup.test")
    taken.mail_username = "jo"
    taken.save()
    response = _sign_up(client, "jo@startup.test", mail_username="jo")
    assert response.status_code == 200 and "already taken" in response.text
