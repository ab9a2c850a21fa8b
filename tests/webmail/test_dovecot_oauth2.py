"""Roundcube's half of single sign-on, for real: Dovecot's oauth2 passdb introspects Mailherd's tokens.

AUTHENTICATE XOAUTH2 / OAUTHBEARER with a token Mailherd issued logs in as the
bound mailbox; a revoked token or a suspended organization is refused.
"""

import imaplib
import shutil

import pytest
from django.test import Client

from mailherd.core.actors import Actor
from mailherd.hosting.services.suspension import organization_mail_suspend
from tests.support.dovecot_oauth2 import DOVECOT, Dovecot

from .conftest import authorize, code_from, exchange

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not shutil.which("dovecot") and not __import__("os").path.exists(DOVECOT),
        reason="no Dovecot",
    ),
]


@pytest.fixture
def dovecot(tmp_path, live_server, webmail):
    port = live_server.url.rsplit(":", 1)[1]
    url = f"http://{webmail.client_id}:{webmail.secret}@127.0.0.1:{port}/o/introspect/"
    server = Dovecot(tmp_path, url).start()
    yield server
    server.stop()


def issue_token(client, tenants, webmail) -> str:
    client.force_login(tenants.alice)
    client.get(f"/webmail/{webmail.mailbox.address}/")
    return exchange(Client(), webmail, code_from(authorize(client, webmail))).json()["access_token"]


def xoauth2(port, user, token):
    imap = imaplib.IMAP4("127.0.0.1", port)
    try:
        typ, _ = imap.authenticate(
            "XOAUTH2", lambda _: f"user={user}\x01auth=Bearer {token}\x01\x01".encode()
        )
        return typ
    finally:
        try:
            imap.logout()
        except imaplib.IMAP4.error:
            pass


def oauthbearer(port, user, token):
    imap = imaplib.IMAP4("127.0.0.1", port)
    try:
        typ, _ = imap.authenticate(
            "OAUTHBEARER", lambda _: f"n,a={user},\x01auth=Bearer {token}\x01\x01".encode()
        )
        return typ
    finally:
        try:
            imap.logout()
        except imaplib.IMAP4.error:
            pass


def refused(call, *args):
    with pytest.raises(imaplib.IMAP4.error):
        call(*args)


def test_token_logs_in_as_the_bound_mailbox_until_revoked(client, tenants, webmail, dovecot):
    token = issue_token(client, tenants, webmail)
    assert xoauth2(dovecot.port, "alice@acme.test", token) == "OK", dovecot.log()
    assert oauthbearer(dovecot.port, "alice@acme.test", token) == "OK", dovecot.log()
    refused(xoauth2, dovecot.port, "boss@acme.test", token)  # the token is alice@acme.test's only
    refused(xoauth2, dovecot.port, "alice@acme.test", "not-a-token")
    Client().post(
        "/o/revoke_token/",
        {"token": token, "client_id": webmail.client_id, "client_secret": webmail.secret},
    )
    refused(xoauth2, dovecot.port, "alice@acme.test", token)


def test_suspended_organization_is_refused(client, tenants, webmail, dovecot):
    token = issue_token(client, tenants, webmail)
    assert xoauth2(dovecot.port, "alice@acme.test", token) == "OK", dovecot.log()
    organization_mail_suspend(
        actor=Actor.system(), organization_id=tenants.acme.pk, reason="unpaid"
    )
    refused(xoauth2, dovecot.port, "alice@acme.test", token)
