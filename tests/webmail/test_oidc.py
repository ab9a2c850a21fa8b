"""Mailherd as Mailcow's OpenID provider: each code and token is bound to one mailbox."""

import base64
import re

from django.db import connection
from django.test import Client

from mailherd.core.actors import Actor
from mailherd.hosting.models import Mailbox
from mailherd.hosting.services.suspension import organization_mail_suspend
from mailherd.tenancy.models import Membership, Role
from mailherd.webmail.oidc import SESSION_MAILBOX_KEY
from tests.conftest import make_user

from .conftest import WEBMAIL_URL, authorize, code_from, exchange, make_mailbox, refresh, userinfo


def open_webmail(client, address):
    return client.get(f"/webmail/{address}/")


def signed_in_tokens(client, webmail):
    response = open_webmail(client, webmail.mailbox.address)
    assert response.status_code == 302
    assert response["Location"] == f"{WEBMAIL_URL}/?iam_sso=1"
    token = exchange(Client(), webmail, code_from(authorize(client, webmail)))
    assert token.status_code == 200, token.content
    return token.json()


def test_discovery_and_keys(client, db):
    config = client.get("/o/.well-known/openid-configuration").json()
    assert config["authorization_endpoint"].endswith("/o/authorize/")
    assert config["token_endpoint"].endswith("/o/token/")
    assert config["userinfo_endpoint"].endswith("/o/userinfo/")
    assert (
        config["introspection_endpoint"].endswith("/o/introspect/")
        if "introspection_endpoint" in config
        else True
    )
    keys = client.get("/o/.well-known/jwks.json").json()["keys"]
    assert keys and keys[0]["kty"] == "RSA" and "d" not in keys[0]


def test_mailbox_user_gets_code_at_once_and_userinfo_names_the_mailbox(client, tenants, webmail):
    Mailbox.objects.filter(pk=webmail.mailbox.pk).update(name="Alice Example")
    client.force_login(tenants.alice)
    open_webmail(client, "Alice@Acme.test")
    response = authorize(client, webmail, state="abc")
    assert response.status_code == 302  # no consent screen, no PKCE
    assert response["Location"].startswith(WEBMAIL_URL + "?")
    assert "state=abc" in response["Location"]
    tokens = exchange(Client(), webmail, code_from(response)).json()
    assert {"access_token", "refresh_token", "id_token"} <= set(tokens)
    claims = userinfo(Client(), tokens["access_token"]).json()
    assert claims["email"] == "alice@acme.test"
    assert claims["name"] == "Alice Example"
    assert "mailcow_template" not in claims


def test_code_is_single_use_and_needs_the_secret(client, tenants, webmail):
    client.force_login(tenants.alice)
    open_webmail(client, webmail.mailbox.address)
    code = code_from(authorize(client, webmail))
    stolen = Client().post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": WEBMAIL_URL,
            "client_id": webmail.client_id,
            "client_secret": "wrong",
        },
    )
    assert stolen.status_code == 401
    assert exchange(Client(), webmail, code).status_code == 200
    assert exchange(Client(), webmail, code).status_code == 400


def test_refresh_keeps_the_mailbox_and_parallel_refreshes_share_one_answer(
    client, tenants, webmail
):
    client.force_login(tenants.alice)
    tokens = signed_in_tokens(client, webmail)
    first = refresh(Client(), webmail, tokens["refresh_token"])
    again = refresh(Client(), webmail, tokens["refresh_token"])  # a parallel page load
    assert first.status_code == again.status_code == 200
    assert first.json()["access_token"] == again.json()["access_token"]
    assert first.json()["refresh_token"] != tokens["refresh_token"]  # rotated
    assert userinfo(Client(), first.json()["access_token"]).json()["email"] == "alice@acme.test"
    assert userinfo(Client(), tokens["access_token"]).status_code == 401  # the old one is gone
    # The replay needs the client's secret too.
    stolen = Client().post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": webmail.client_id,
            "client_secret": "nope",
        },
    )
    assert stolen.status_code == 400
    second = refresh(Client(), webmail, first.json()["refresh_token"])
    assert second.status_code == 200


def test_suspension_ends_refresh_userinfo_and_new_codes(client, tenants, webmail):
    client.force_login(tenants.alice)
    tokens = signed_in_tokens(client, webmail)
    organization_mail_suspend(actor=Actor.system(), organization_id=tenants.acme.pk, reason="test")
    assert refresh(Client(), webmail, tokens["refresh_token"]).status_code == 400
    assert userinfo(Client(), tokens["access_token"]).status_code == 401
    response = authorize(client, webmail)
    assert response.status_code == 403
    assert b"suspended" in response.content


def test_unassigned_user_loses_the_session(client, tenants, webmail):
    client.force_login(tenants.alice)
    tokens = signed_in_tokens(client, webmail)
    Mailbox.objects.filter(pk=webmail.mailbox.pk).update(user=None)
    assert refresh(Client(), webmail, tokens["refresh_token"]).status_code == 400
    assert authorize(client, webmail).status_code == 403


def test_inactive_mailbox_gets_no_code(client, tenants, webmail):
    client.force_login(tenants.alice)
    open_webmail(client, webmail.mailbox.address)
    Mailbox.objects.filter(pk=webmail.mailbox.pk).update(enabled=False)
    assert authorize(client, webmail).status_code == 403


def test_owner_who_is_not_the_user_cannot_open_it(client, tenants, webmail):
    carol = make_user("carol@acme.test")
    Membership.objects.create(organization=tenants.acme, user=carol, role=Role.MEMBER)
    Mailbox.objects.filter(pk=webmail.mailbox.pk).update(user=carol)
    client.force_login(tenants.alice)  # alice owns Acme
    assert open_webmail(client, webmail.mailbox.address).status_code == 403
    # Even with the mailbox forced into her session, /o/authorize/ refuses.
    session = client.session
    session[SESSION_MAILBOX_KEY] = {"id": webmail.mailbox.pk}
    session.save()
    assert authorize(client, webmail).status_code == 403


def test_other_organization_sees_nothing(client, tenants, webmail):
    client.force_login(tenants.bob)
    assert open_webmail(client, webmail.mailbox.address).status_code == 404
    session = client.session
    session[SESSION_MAILBOX_KEY] = {"id": webmail.mailbox.pk}
    session.save()
    assert authorize(client, webmail).status_code == 403


def test_a_code_is_for_the_chosen_mailbox_only(client, tenants, webmail):
    other = make_mailbox(tenants.acme, "sales@acme.test", user=tenants.alice)
    client.force_login(tenants.alice)
    open_webmail(client, other.address)
    tokens = exchange(Client(), webmail, code_from(authorize(client, webmail))).json()
    assert userinfo(Client(), tokens["access_token"]).json()["email"] == "sales@acme.test"
    tokens2 = refresh(Client(), webmail, tokens["refresh_token"]).json()
    assert userinfo(Client(), tokens2["access_token"]).json()["email"] == "sales@acme.test"


def test_introspection_names_the_mailbox_until_revoked(client, tenants, webmail):
    client.force_login(tenants.alice)
    tokens = signed_in_tokens(client, webmail)
    basic = "Basic " + base64.b64encode(f"{webmail.client_id}:{webmail.secret}".encode()).decode()
    answer = (
        Client()
        .post("/o/introspect/", {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=basic)
        .json()
    )
    assert answer["active"] is True and answer["username"] == "alice@acme.test"
    Client().post(
        "/o/revoke_token/",
        {
            "token": tokens["access_token"],
            "client_id": webmail.client_id,
            "client_secret": webmail.secret,
        },
    )
    answer = (
        Client()
        .post("/o/introspect/", {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=basic)
        .json()
    )
    assert answer == {"active": False}


def test_codes_tokens_and_secrets_are_not_stored_in_plaintext(client, tenants, webmail):
    client.force_login(tenants.alice)
    open_webmail(client, webmail.mailbox.address)
    code = code_from(authorize(client, webmail))
    with connection.cursor() as cursor:
        cursor.execute("SELECT code FROM oauth2_provider_grant")
        assert code not in {row[0] for row in cursor.fetchall()}
    tokens = exchange(Client(), webmail, code).json()
    rotated = refresh(Client(), webmail, tokens["refresh_token"]).json()
    secrets_seen = {
        code,
        tokens["access_token"],
        tokens["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
        webmail.secret,
    }
    with connection.cursor() as cursor:
        for table in (
            "oauth2_provider_grant",
            "oauth2_provider_accesstoken",
            "oauth2_provider_refreshtoken",
            "oauth2_provider_application",
            "webmail_ssoclient",
            "webmail_refreshreplay",
            "webmail_mailboxgrant",
        ):
            cursor.execute(f"SELECT * FROM {table}")
            dump = repr(cursor.fetchall())
            for value in secrets_seen:
                assert value not in dump, f"{table} holds a secret in plaintext"


def test_reserved_slugs_do_not_shadow_the_provider(tenants):
    from mailherd.tenancy.services import organization_create

    org = organization_create(
        actor=Actor.for_user(tenants.alice), name="Token", owner=tenants.alice
    )
    assert org.slug == "token-org"


# --- a sign-in that starts at Roundcube (no "Open webmail" in the portal first) -------------


def test_a_flow_started_elsewhere_uses_the_persons_only_mailbox(client, tenants, webmail):
    client.force_login(tenants.alice)  # never opened webmail from the portal
    tokens = exchange(Client(), webmail, code_from(authorize(client, webmail))).json()
    assert userinfo(Client(), tokens["access_token"]).json()["email"] == "alice@acme.test"


def test_with_several_mailboxes_the_person_chooses_one(client, tenants, webmail):
    make_mailbox(tenants.acme, "sales@acme.test", user=tenants.alice)
    make_mailbox(tenants.acme, "nosso@acme.test", user=tenants.alice, sso=False)  # not offered
    client.force_login(tenants.alice)
    page = authorize(client, webmail)
    assert page.status_code == 200
    offered = page.content.decode()
    assert "alice@acme.test" in offered and "sales@acme.test" in offered
    assert "nosso@acme.test" not in offered
    href = re.search(r'data-mailbox="sales@acme.test" href="([^"]+)"', offered).group(1)
    picked = client.get("/o/authorize/" + href.replace("&amp;", "&"))
    tokens = exchange(Client(), webmail, code_from(picked)).json()
    assert userinfo(Client(), tokens["access_token"]).json()["email"] == "sales@acme.test"


def test_a_mailbox_named_in_the_request_must_be_the_persons(client, tenants, webmail):
    bobs = make_mailbox(tenants.acme, "bobs@acme.test", user=None)
    client.force_login(tenants.alice)
    response = client.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": webmail.client_id,
            "redirect_uri": WEBMAIL_URL,
            "scope": "openid profile email",
            "login_hint": bobs.address,
        },
    )
    assert response.status_code == 400 and b"no_mailbox_chosen" in response.content


def test_someone_with_no_mailbox_on_the_server_is_told_to_open_it_from_the_portal(
    client, tenants, webmail
):
    Mailbox.objects.filter(pk=webmail.mailbox.pk).update(user=None)
    client.force_login(tenants.alice)
    response = authorize(client, webmail)
    assert response.status_code == 400 and b"no_mailbox_chosen" in response.content
