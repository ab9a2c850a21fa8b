"""The back office's smarthost pages: through the relay services, the password never shown back."""

import pytest

from mailherd.core.models import AuditEvent
from mailherd.mailcow.models import MailServer, Relay

pytestmark = pytest.mark.django_db


def test_an_operator_adds_a_relay_makes_it_a_servers_default_and_never_sees_the_password(
    ops_client,
):
    server = MailServer.objects.create(name="mx1", api_url="http://127.0.0.1:9", api_key="k")
    form = {
        "name": "resend",
        "host": "smtp.resend.com",
        "port": "587",
        "username": "resend",
        "password": "re_topsecret",
        "spf_include": "amazonses.com",
        "envelope_subdomain": "send",
        "envelope_mx": "feedback-smtp.us-east-1.amazonses.com",
        "dkim_selector": "resend",
        "dkim_type": "TXT",
        "dkim_value": "p=abc",
        "default_for": [server.pk],
    }
    response = ops_client.post("/operator/mailcow/relay/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    relay = Relay.objects.get(name="resend")
    assert relay.password == "re_topsecret"
    server.refresh_from_db()
    assert server.default_relay == relay
    assert AuditEvent.objects.filter(action="relay.add").exists()
    assert AuditEvent.objects.filter(action="mail_server.relay").exists()

    page = ops_client.get(f"/operator/mailcow/relay/{relay.pk}/change/").content.decode()
    assert "re_topsecret" not in page and "Leave empty to keep the current password" in page

    # saving without a password keeps it; a bad field is refused on the form
    form.update(password="", port="70000")
    response = ops_client.post(f"/operator/mailcow/relay/{relay.pk}/change/", form)
    assert response.status_code == 200 and "between 1 and 65535" in response.content.decode()
    form.update(port="2525")
    response = ops_client.post(f"/operator/mailcow/relay/{relay.pk}/change/", form)
    assert response.status_code == 302
    relay.refresh_from_db()
    assert relay.port == 2525 and relay.password == "re_topsecret"


def test_an_envelope_subdomain_without_its_mx_is_refused(ops_client):
    response = ops_client.post(
        "/operator/mailcow/relay/add/",
        {"name": "half", "host": "smtp.half.test", "port": "587", "envelope_subdomain": "send"},
    )
    assert response.status_code == 200
    assert "needs the provider&#x27;s MX host" in response.content.decode()
    assert not Relay.objects.filter(name="half").exists()
