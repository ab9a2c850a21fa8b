"""A refusal by the mail server: plain words for the customer, the Mailcow details for the operator."""

import pytest

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.messages import customer_error
from mailherd.hosting.models import ProvisioningOp
from mailherd.hosting.provisioning import outbox_drain
from mailherd.mailcow.client.errors import MailcowQuotaError
from mailherd.mailcow.services import client_for
from tests.hosting.conftest import verified_domain
from tests.operator.fixtures import ops_client, ops_user  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

RAW_MARKS = ("[POST", "HTTP 200", "msg=", "Mailcow", "add/mailbox")


def _plain(text: str) -> None:
    assert text, "no message at all"
    for mark in RAW_MARKS:
        assert mark not in text, text


def test_a_refused_mailbox_shows_plain_words_to_the_customer_and_details_to_the_operator(
    client,
    tenants,
    mail_server,
    ops_client,  # noqa: F811
):
    from django.test import Client

    alice_client = Client()
    alice_client.force_login(tenants.alice)
    verified_domain(tenants.acme, "acme.test")
    outbox_drain()
    # someone made the address an alias on the server, behind Mailherd's back
    client_for(mail_server).add_alias("x@acme.test", ["y@acme.test"])
    services.mailbox_create(
        actor=Actor.system(), organization=tenants.acme, address="x@acme.test", quota_mb=10
    )
    outbox_drain()
    op = ProvisioningOp.objects.get(object_key="mailbox:x@acme.test")
    assert op.status == "failed" and "msg=" in op.last_error  # the Mailcow key, for the operator

    _token, plaintext = api_token_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="t"
    )
    body = client.get(
        "/api/v1/mailboxes/x@acme.test", HTTP_AUTHORIZATION=f"Bearer {plaintext}"
    ).json()
    assert body["status"] == "error"
    _plain(body["last_error"])
    assert "mail server did not accept" in body["last_error"]

    page = alice_client.get("/o/acme/mailboxes/x@acme.test/").content.decode()
    assert "mail server did not accept" in page
    for mark in RAW_MARKS:
        assert mark not in page

    operator_page = ops_client.get(f"/operator/hosting/provisioningop/{op.pk}/change/")
    assert operator_page.status_code == 200
    assert "msg=" in operator_page.content.decode()


def test_mailcow_limits_read_as_the_providers_to_fix():
    exc = MailcowQuotaError(
        "Mailcow refused: max_mailbox_exceeded",
        method="POST",
        path="add/mailbox",
        status=200,
        msg_key="max_mailbox_exceeded",
        args=(3, 3),
    )
    message = customer_error(exc)
    _plain(message)
    assert "provider" in message and "nothing you need to do" in message
