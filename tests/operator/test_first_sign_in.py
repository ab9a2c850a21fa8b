"""After setting up two-factor, the recovery codes page leads on."""

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_customer_sees_a_way_to_the_dashboard_after_setting_up_two_factor(client, tenants):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    client.post("/accounts/login/", {"login": "alice@acme.test", "password": PASSWORD})
    RecoveryCodes.activate(tenants.alice)
    html = client.get("/accounts/2fa/recovery-codes/").content.decode()
    assert 'href="/portal/">Continue to your dashboard</a>' in html
