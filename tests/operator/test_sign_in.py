"""Operator sign-in: this session's second factor, enrolment by one-time link, secrets encrypted."""

import re
from urllib.parse import urlparse

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import hotp_value, yield_hotp_counters_from_time
from django.db import connection
from django.test import Client

from mailherd.core.actors import Actor
from mailherd.operator.services import operator_enrolment_create
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def code(secret: str, offset: int = 0) -> str:
    counter = next(iter(yield_hotp_counters_from_time())) + offset
    return f"{hotp_value(secret, counter):06d}"


def password_sign_in(email: str) -> Client:
    session = Client()
    response = session.post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return session


def enrol(session: Client, link: str) -> str:
    """Open the set-up link, scan the secret, confirm with a code; return the secret."""
    response = session.get(urlparse(link).path)
    assert response.status_code == 302 and "/accounts/2fa/totp/activate/" in response["Location"]
    page = session.get(response["Location"])
    assert page.status_code == 200, page.get("Location")  # not asked for the password again
    secret = session.session["mfa.totp.secret"]
    done = session.post("/accounts/2fa/totp/activate/", {"code": code(secret)})
    assert done.status_code == 302, done.content
    return secret


@pytest.fixture
def creator(db):
    from tests.operator.fixtures import with_two_factor

    return with_two_factor(make_user("lead@operator.test", staff=True))


def test_a_password_only_session_stays_out_after_another_session_sets_up_totp(creator, tenants):
    newbie = make_user("new@operator.test", staff=True)
    link = operator_enrolment_create(actor=Actor.for_user(creator), user=newbie)
    # session 1 signs in with the password only
    first = password_sign_in(newbie.email)
    assert first.get("/operator/").status_code == 403
    # session 2 of the same operator sets TOTP up through the link
    second = password_sign_in(newbie.email)
    enrol(second, link)
    assert second.get("/operator/tenancy/organization/").status_code == 200
    # session 1 still has not entered a code: it is asked for one, and sees no organization
    for page in ("/operator/", "/operator/tenancy/organization/", "/operator/tenancy/user/"):
        response = first.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/reauthenticate/") or response[
            "Location"
        ].startswith("/accounts/2fa/reauthenticate/")


def test_sign_in_with_the_code_opens_the_back_office(creator, tenants):
    from allauth.mfa.adapter import get_adapter

    secret = get_adapter().decrypt(
        Authenticator.objects.get(user=creator, type="totp").wrap().instance.data["secret"]
    )
    session = Client()
    response = session.post("/accounts/login/", {"login": creator.email, "password": PASSWORD})
    assert "/accounts/2fa/authenticate/" in response["Location"]
    session.post("/accounts/2fa/authenticate/", {"code": code(secret)})
    assert session.get("/operator/").status_code == 200


def test_a_new_operator_cannot_enrol_without_the_link(tenants):
    newbie = make_user("self@operator.test", staff=True)
    session = password_sign_in(newbie.email)
    page = session.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 403 and b"set-up link" in page.content
    response = session.post("/accounts/2fa/totp/activate/", {"code": "123456"})
    assert response.status_code == 403
    assert not Authenticator.objects.filter(user=newbie).exists()


def test_the_link_works_once_and_only_for_its_account(creator, tenants):
    newbie = make_user("once@operator.test", staff=True)
    other = make_user("other@operator.test", staff=True)
    link = operator_enrolment_create(actor=Actor.for_user(creator), user=newbie)
    path = urlparse(link).path
    # someone else signed in cannot use it
    assert password_sign_in(other.email).get(path).status_code == 404
    enrol(password_sign_in(newbie.email), link)
    again = Client()
    again.force_login(newbie)
    assert again.get(path).status_code == 404


def test_the_set_up_link_is_made_in_the_back_office(ops_client, tenants):
    from django.contrib.messages import get_messages

    newbie = make_user("made@operator.test", staff=True)
    response = ops_client.post(
        "/operator/tenancy/user/",
        {"action": "operator_setup_link", "_selected_action": [newbie.pk]},
        follow=True,
    )
    text = " ".join(str(m) for m in get_messages(response.wsgi_request)) + response.content.decode()
    assert re.search(r"/operator/enrol/[\w-]{20,}/", text)
    from mailherd.core.models import AuditEvent

    assert AuditEvent.objects.filter(action="operator.enrolment_create").exists()


def test_totp_secrets_are_encrypted_and_the_authenticators_admin_is_gone(ops_client, ops_user):
    with connection.cursor() as cursor:
        cursor.execute("select data from mfa_authenticator where user_id = %s", [ops_user.pk])
        (raw,) = cursor.fetchone()
    secret = Authenticator.objects.get(user=ops_user, type="totp").wrap().instance.data["secret"]
    from allauth.mfa.adapter import get_adapter

    plain = get_adapter().decrypt(secret)
    assert plain not in str(raw) and len(plain) >= 16
    assert ops_client.get("/operator/mfa/authenticator/").status_code == 404


def test_the_migration_encrypts_plaintext_secrets(db):
    import importlib

    from django.apps import apps

    from mailherd.core.crypto import decrypt

    user = make_user("legacy@operator.test", staff=True)
    row = Authenticator.objects.create(user=user, type="totp", data={"secret": "JBSWY3DPEHPK3PXP"})
    migration = importlib.import_module(
        "mailherd.operator.migrations.0004_encrypt_authenticator_secrets"
    )
    migration.encrypt_secrets(apps, None)
    migration.encrypt_secrets(apps, None)  # twice: no double encryption
    row.refresh_from_db()
    assert decrypt(row.data["secret"]) == "JBSWY3DPEHPK3PXP"
