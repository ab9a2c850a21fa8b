"""The connection details a customer copies into a mail client name the security of each port."""

import re
import xml.etree.ElementTree as ET

import pytest

from mailherd.core.actors import Actor
from mailherd.hosting import services
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db


def _rows(html: str) -> dict:
    rows = {}
    for label in ("IMAP", "POP3", "SMTP"):
        match = re.search(rf"<th>{label}</th><td>(.*?)</td>", html, re.S)
        rows[label] = re.sub(r"<[^>]+>", "", match.group(1)) if match else ""
    return rows


@pytest.mark.parametrize(
    "ports, expected",
    [
        (
            {"imap_port": 993, "pop3_port": 995, "smtp_port": 587},
            {"IMAP": "993, SSL/TLS", "POP3": "995, SSL/TLS", "SMTP": "587, STARTTLS"},
        ),
        (
            {"imap_port": 143, "pop3_port": 110, "smtp_port": 465},
            {"IMAP": "143, STARTTLS", "POP3": "110, STARTTLS", "SMTP": "465, SSL/TLS"},
        ),
    ],
)
def test_each_port_shows_its_own_security(alice_client, tenants, mail_server, ports, expected):
    for field, value in ports.items():
        setattr(mail_server, field, value)
    mail_server.save()
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(
        actor=Actor.for_user(tenants.alice),
        organization=tenants.acme,
        address="ann@acme.test",
        quota_mb=100,
    )
    html = alice_client.get("/o/acme/mailboxes/ann@acme.test/").content.decode()
    rows = _rows(html)
    for label, text in expected.items():
        assert f"port {text}" in rows[label], rows


def test_client_set_up_files_follow_the_ports(client, tenants, mail_server, settings):
    settings.ALLOWED_HOSTS = ["*"]
    mail_server.imap_port, mail_server.pop3_port, mail_server.smtp_port = 143, 110, 465
    mail_server.save()
    verified_domain(tenants.acme, "acme.test")
    response = client.get("/mail/config-v1.1.xml", {"emailaddress": "ann@acme.test"})
    provider = ET.fromstring(response.content).find("emailProvider")
    sockets = {
        server.get("type"): (server.findtext("port"), server.findtext("socketType"))
        for server in [*provider.findall("incomingServer"), provider.find("outgoingServer")]
    }
    assert sockets == {
        "imap": ("143", "STARTTLS"),
        "pop3": ("110", "STARTTLS"),
        "smtp": ("465", "SSL"),
    }
    response = client.post(
        "/autodiscover/autodiscover.xml",
        data="<Autodiscover><Request><EMailAddress>ann@acme.test</EMailAddress></Request></Autodiscover>",
        content_type="text/xml",
    )
    text = response.content.decode()
    imap = text.split("<Type>IMAP</Type>")[1].split("</Protocol>")[0]
    assert "<Encryption>TLS</Encryption>" in imap and "<SSL>on</SSL>" not in imap
