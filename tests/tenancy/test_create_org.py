"""`mailherd create_org`: the owner gets in with the given password or a one-time sign-in link."""

import pytest
from django.core.management import CommandError, call_command

from mailherd.tenancy.models import Membership, Organization
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def _run(*args) -> list[str]:
    from io import StringIO

    out = StringIO()
    call_command("create_org", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip().splitlines()


def _path(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def test_with_a_password_the_owner_signs_in_at_once(client):
    lines = _run(
        "--name",
        "Umbrella Corp",
        "--owner-email",
        "Boss@Umbrella.test",
        "--owner-password",
        PASSWORD,
    )
    assert lines == ["umbrella-corp"]
    # the normal sign-in form lets them in: no email check, no reset needed
    response = client.post(
        "/accounts/login/", {"login": "boss@umbrella.test", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/o/umbrella-corp/"
    assert Membership.objects.get(organization__slug="umbrella-corp").role == "owner"


def test_without_a_password_a_one_time_link_signs_in_and_asks_for_a_password(client):
    lines = _run("--name", "Initech", "--owner-email", "peter@initech.test", "--plan", "business")
    assert lines[-1] == "initech"
    assert Organization.objects.get(slug="initech").plan.slug == "business"
    assert lines[0].startswith("Sign-in link for peter@initech.test (one use, valid 3 days): http")
    path = _path(lines[0].rsplit(" ", 1)[1])
    # opening the link does not use it up (mail scanners open links); the button does
    assert b"Sign in as <strong>peter@initech.test</strong>" in client.get(path).content
    assert b"Sign in as" in client.get(path).content
    response = client.post(path, follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/password/set/"
    assert b"Choose a password" in response.content
    # chosen password works afterwards; the link does not work twice
    client.post("/accounts/password/set/", {"password1": PASSWORD, "password2": PASSWORD})
    client.logout()
    response = client.get(path)
    assert response.status_code == 410
    assert b"already been used or has expired" in response.content
    assert client.post(path).status_code == 410
    assert client.login(email="peter@initech.test", password=PASSWORD)


def test_a_tampered_link_is_refused(client):
    lines = _run("--name", "Hooli", "--owner-email", "gavin@hooli.test")
    path = _path(lines[0].rsplit(" ", 1)[1])
    response = client.post(path[:-3] + "xx/")
    assert response.status_code == 410
    assert "_auth_user_id" not in client.session


def test_no_link_signs_in_an_operator_or_a_user_with_two_factor(client):
    make_user("ops@operator.test", staff=True)
    lines = _run("--name", "Ops Org", "--owner-email", "ops@operator.test")
    assert lines == ["ops-org"]
    from mailherd.tenancy.models import User
    from mailherd.tenancy.services import sign_in_link_create

    link = sign_in_link_create(user=User.objects.get(email="ops@operator.test"))
    assert client.post(_path(link)).status_code == 410


def test_an_existing_owner_keeps_their_password():
    make_user("alice@acme.test")
    assert _run(
        "--name", "Second", "--owner-email", "alice@acme.test", "--owner-password", PASSWORD
    ) == ["second"]
    with pytest.raises(CommandError, match="already has an account with another password"):
        _run(
            "--name",
            "Third",
            "--owner-email",
            "alice@acme.test",
            "--owner-password",
            "another-long-password",
        )
    assert not Organization.objects.filter(name="Third").exists()


def test_bad_input_is_refused_in_plain_words():
    with pytest.raises(CommandError, match="not-an-email is not an email address"):
        _run("--name", "X", "--owner-email", "not-an-email")
    with pytest.raises(CommandError, match="No plan with slug 'gold'"):
        _run("--name", "X", "--owner-email", "x@x.test", "--plan", "gold")
    from mailherd.tenancy.models import User

    assert not User.objects.filter(email="x@x.test").exists()


def test_a_weak_password_is_a_warning_not_an_error(capsys):
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command(
        "create_org",
        "--name",
        "Weak",
        "--owner-email",
        "w@weak.test",
        "--owner-password",
        "abc",
        stdout=out,
        stderr=err,
    )
    assert out.getvalue().strip().splitlines()[-1] == "weak"
    assert "too short" in err.getvalue()
