from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.hosting.models import Domain, Mailbox
from mailherd.hosting.services.mailboxes import mailbox_create
from mailherd.mailcow.models import MailServer
from mailherd.webmail.services import sso_client_register
from tests.hosting.conftest import verified_domain

WEBMAIL_URL = "https://mail.provider.test"


@dataclass
class Webmail:
    server: MailServer
    sso: object
    secret: str
    mailbox: Mailbox

    @property
    def client_id(self) -> str:
        return self.sso.application.client_id


def make_mailbox(organization, address, *, user=None, sso=True) -> Mailbox:
    mailbox, _ = mailbox_create(actor=Actor.system(), organization=organization, address=address)
    Mailbox.objects.filter(pk=mailbox.pk).update(user=user, sso=sso)
    mailbox.refresh_from_db()
    return mailbox


@pytest.fixture
def webmail(tenants) -> Webmail:
    server = MailServer.objects.create(
        name="mc1", api_url="http://127.0.0.1:9", api_key="KEY-1", hostname="mail.provider.test"
    )
    domain = verified_domain(tenants.acme, "acme.test")
    Domain.objects.filter(pk=domain.pk).update(mail_server=server)
    sso, _ = sso_client_register(actor=Actor.system(), mail_server=server, webmail_url=WEBMAIL_URL)
    sso.configured_at = timezone.now()
    sso.save()
    mailbox = make_mailbox(tenants.acme, "alice@acme.test", user=tenants.alice)
    return Webmail(server=server, sso=sso, secret=sso.client_secret, mailbox=mailbox)


def authorize(client, webmail, *, state="st4te"):
    """What Mailcow does after /?iam_sso=1: send the browser to /o/authorize/."""
    return client.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": webmail.client_id,
            "redirect_uri": WEBMAIL_URL,
            "scope": "openid profile email",
            "state": state,
        },
    )


def code_from(response) -> str:
    assert response.status_code == 302, response.content[:500]
    query = parse_qs(urlsplit(response["Location"]).query)
    return query["code"][0]


def exchange(client, webmail, code):
    """Mailcow's code exchange: client secret in the POST body."""
    return client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": WEBMAIL_URL,
            "client_id": webmail.client_id,
            "client_secret": webmail.secret,
        },
    )


def refresh(client, webmail, refresh_token):
    return client.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": webmail.client_id,
            "client_secret": webmail.secret,
        },
    )


def userinfo(client, access_token):
    return client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access_token}")


@pytest.fixture
def sim(mailcow_sim):
    mailcow_sim.reset()
    mailcow_sim.clear_faults()
    return mailcow_sim


@pytest.fixture
def sim_acme(tenants, sim):
    """Acme's acme.test on the simulator, with a generic-oidc identity provider configured there."""
    from mailherd.hosting.provisioning import outbox_drain
    from mailherd.mailcow.services import client_for
    from mailherd.webmail.services import identity_provider_attr

    server = MailServer.objects.create(name="sim", api_url=sim.url, api_key=sim.api_key)
    domain = verified_domain(tenants.acme, "acme.test")
    Domain.objects.filter(pk=domain.pk).update(mail_server=server)
    sso, _ = sso_client_register(actor=Actor.system(), mail_server=server, webmail_url=sim.url)
    with client_for(server) as mailcow:
        mailcow.set_identity_provider(identity_provider_attr(sso, site_url="https://portal.test"))
    sso.configured_at = timezone.now()
    sso.save()
    outbox_drain()
    return server


@pytest.fixture
def api(client, tenants):
    from mailherd.api.services import api_token_create

    _token, plaintext = api_token_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="t"
    )

    def call(method, path, json=None):
        response = getattr(client, method)(
            "/api/v1" + path,
            data=json,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {plaintext}",
        )
        return response.status_code, (response.json() if response.content else None)

    return call
