"""An operator's first sign-in: password once, set up TOTP (a wrong code keeps ?next=), then on."""

import pytest
from allauth.mfa.totp.internal.auth import hotp_value, yield_hotp_counters_from_time

from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def _code(secret: str) -> str:
    counter = next(iter(yield_hotp_counters_from_time()))
    return f"{hotp_value(secret, counter):06d}"


def test_first_sign_in_asks_for_the_password_once_and_leads_to_the_back_office(client):
    make_user("newops@provider.test", staff=True)
    response = client.post(
        "/accounts/login/?next=/operator/",
        {"login": "newops@provider.test", "password": PASSWORD, "next": "/operator/"},
        follow=True,
    )
    # straight to the authenticator set-up: no second "Confirm access"
    assert response.redirect_chain[-1][0] == "/accounts/2fa/totp/activate/?next=%2Foperator%2F"
    assert b"reauthenticate" not in response.content and b"Confirm Access" not in response.content
    # a wrong code: the page comes back with ?next= still in the form's address
    wrong = client.post("/accounts/2fa/totp/activate/?next=%2Foperator%2F", {"code": "000000"})
    assert wrong.status_code == 200
    assert 'action="/accounts/2fa/totp/activate/?next=%2Foperator%2F"' in wrong.content.decode()
    secret = wrong.context["form"].secret
    done = client.post(
        "/accounts/2fa/totp/activate/?next=%2Foperator%2F", {"code": _code(secret)}, follow=True
    )
    html = done.content.decode()
    assert done.redirect_chain[-1][0] == "/accounts/2fa/recovery-codes/"
    assert 'href="/operator/">Continue to the back office</a>' in html
    assert 'class="button-row"' in html  # the two buttons sit apart
    assert client.get("/operator/").status_code == 200


def test_a_password_typed_long_ago_still_needs_confirming(client, settings):
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 0
    make_user("slowops@provider.test", staff=True)
    response = client.post(
        "/accounts/login/?next=/operator/",
        {"login": "slowops@provider.test", "password": PASSWORD, "next": "/operator/"},
        follow=True,
    )
    assert "/accounts/reauthenticate/" in response.redirect_chain[-1][0]


def test_a_customer_sees_a_way_to_the_dashboard_after_setting_up_two_factor(client, tenants):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    client.post("/accounts/login/", {"login": "alice@acme.test", "password": PASSWORD})
    RecoveryCodes.activate(tenants.alice)
    html = client.get("/accounts/2fa/recovery-codes/").content.decode()
    assert 'href="/portal/">Continue to your dashboard</a>' in html
