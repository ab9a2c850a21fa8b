"""`mailherd webmail_sso_setup` writes Mailcow's identity provider exactly as the reference's design lists."""

import io

import pytest
from django.core.management import CommandError, call_command

from mailherd.mailcow.models import MailServer
from mailherd.webmail.models import SsoClient
from mailherd.webmail.services import SENTINEL_MAPPER

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(mailcow_sim):
    mailcow_sim.reset()
    return MailServer.objects.create(
        name="sim", api_url=mailcow_sim.url, api_key=mailcow_sim.api_key
    )


def test_setup_writes_the_identity_provider_and_tests_it(server, mailcow_sim, live_server):
    out = io.StringIO()
    try:
        call_command(
            "webmail_sso_setup",
            "--server",
            "sim",
            "--webmail-url",
            "https://mail.provider.test/",
            "--site-url",
            live_server.url,
            stdout=out,
        )
    finally:
        print(out.getvalue())
    sso = SsoClient.objects.get(mail_server=server)
    config = mailcow_sim.state.identity_provider
    mapper = config.pop("mappers")
    assert config == {
        "authsource": "generic-oidc",
        "authorize_url": f"{live_server.url}/o/authorize/",
        "token_url": f"{live_server.url}/o/token/",
        "userinfo_url": f"{live_server.url}/o/userinfo/",
        "client_id": sso.application.client_id,
        "client_secret": sso.client_secret,
        "redirect_url": "https://mail.provider.test",
        "redirect_url_extra": [],
        "client_scopes": "openid profile email",
        "login_provisioning": 0,
        "ignore_ssl_error": 0,
        "templates": ["Default"],
    }
    assert len(mapper) == 1 and mapper[0].startswith(SENTINEL_MAPPER)
    assert mailcow_sim.state.identity_provider_tests == [f"{live_server.url}/o/token/"]
    text = out.getvalue()
    assert (
        "wrote Mailcow's identity provider" in text
        and "identity-provider-test: Mailcow reached" in text
    )
    assert sso.client_secret not in text
    assert (
        sso.application.redirect_uris == "https://mail.provider.test"
        and sso.application.skip_authorization
    )
    assert sso.last_test_ok is True and sso.configured_at is not None

    # Again: same client and secret (Mailcow keeps working), provider written again.
    call_command(
        "webmail_sso_setup",
        "--server",
        "sim",
        "--webmail-url",
        "https://mail.provider.test",
        "--site-url",
        live_server.url,
        stdout=io.StringIO(),
    )
    assert SsoClient.objects.get().client_secret == sso.client_secret


def test_unreachable_provider_is_reported(server, mailcow_sim):
    with pytest.raises(CommandError, match="could not reach"):
        call_command(
            "webmail_sso_setup",
            "--server",
            "sim",
            "--webmail-url",
            "https://mail.provider.test",
            "--site-url",
            "http://127.0.0.1:9",
            stdout=io.StringIO(),
        )
    assert SsoClient.objects.get().last_test_ok is False


def test_bad_input_is_explained(server):
    with pytest.raises(CommandError, match="No Mailcow server named"):
        call_command("webmail_sso_setup", "--server", "nope", "--webmail-url", "https://x.test")
    with pytest.raises(CommandError, match="without a path"):
        call_command("webmail_sso_setup", "--server", "sim", "--webmail-url", "https://x.test/SOGo")
