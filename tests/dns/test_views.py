"""Portal DNS pages (and the outsider), the zone export, and the mail-client set-up files."""

import plistlib
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from mailherd.core.actors import Actor
from mailherd.dns.models import DnsCheck
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services.mailboxes import mailbox_create
from tests.dns.conftest import expected, publish

pytestmark = pytest.mark.django_db


def records_url(org, name):
    return reverse("dns:records", kwargs={"org_slug": org.slug, "name": name})


def test_the_records_page_shows_each_record_with_host_forms_and_status(
    alice_client, tenants, make_domain, server_dns
):
    domain = make_domain("page.test")
    publish(server_dns, expected(domain), zone="page.test", skip={"dmarc"})

    response = alice_client.post(
        reverse("dns:check", kwargs={"org_slug": tenants.acme.slug, "name": "page.test"}),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert 'id="dns-records"' in fragment and "<html" not in fragment  # the htmx fragment only
    assert 'data-key="dmarc" data-status="missing"' in fragment
    assert 'data-key="mx" data-status="ok"' in fragment

    page = alice_client.get(records_url(tenants.acme, "page.test")).content.decode()
    assert "dkim._domainkey" in page and "dkim._domainkey.page.test" in page  # relative and full
    assert 'data-copy="v=spf1 mx a:mail.provider.test -all"' in page
    assert "How DNS panels name these fields" in page and "Cloudflare" in page
    assert reverse("dns:zone", kwargs={"org_slug": tenants.acme.slug, "name": "page.test"}) in page
    assert DnsCheck.objects.filter(domain=domain, trigger="manual").count() == 1


def test_the_outsider_gets_404_on_every_dns_page(client, tenants, make_domain):
    make_domain("private.test")
    client.force_login(tenants.bob)
    kwargs = {"org_slug": tenants.acme.slug, "name": "private.test"}
    for name in ("dns:records", "dns:zone", "dns:push"):
        assert client.get(reverse(name, kwargs=kwargs)).status_code == 404
    assert client.post(reverse("dns:check", kwargs=kwargs)).status_code == 404
    # and under his own organization the domain does not exist
    kwargs["org_slug"] = tenants.globex.slug
    assert client.get(reverse("dns:records", kwargs=kwargs)).status_code == 404


def test_the_zone_export_is_a_bind_fragment(alice_client, tenants, make_domain):
    make_domain("zone.test")
    response = alice_client.get(
        reverse("dns:zone", kwargs={"org_slug": tenants.acme.slug, "name": "zone.test"})
    )
    text = response.content.decode()
    assert response["Content-Disposition"] == 'attachment; filename="zone.test.zone"'
    assert "zone.test.\t3600\tIN\tMX\t10 mail.provider.test." in text
    assert (
        '_dmarc.zone.test.\t3600\tIN\tTXT\t"v=DMARC1; p=none; rua=mailto:postmaster@zone.test"'
        in text
    )


def test_the_dmarc_report_address_is_the_customers_choice(alice_client, tenants, make_domain):
    domain = make_domain("rua.test")
    url = reverse("dns:settings", kwargs={"org_slug": tenants.acme.slug, "name": "rua.test"})
    alice_client.post(
        url,
        {
            "dmarc_rua": "Reports@RUA.test",
            "spf_include": "include:_spf.news.test",
            "mta_sts_mode": "testing",
            "tls_rpt_rua": "",
        },
    )
    values = {r.key: r.value for r in expected(domain)}
    assert values["dmarc"] == "v=DMARC1; p=none; rua=mailto:reports@rua.test"
    assert values["spf"].endswith("include:_spf.news.test -all")
    assert values["mta_sts"].startswith("v=STSv1; id=")
    response = alice_client.post(url, {"dmarc_rua": "not an address"}, follow=True)
    assert "is not an email address" in response.content.decode()


def test_thunderbird_autoconfig_names_the_servers(client, make_domain, settings):
    settings.ALLOWED_HOSTS = [
        "*"
    ]  # customers' autoconfig.<domain> names reach Mailherd (see docs/dns.md)
    make_domain("client.test")
    response = client.get("/mail/config-v1.1.xml", {"emailaddress": "ann@client.test"})
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    provider = root.find("emailProvider")
    assert provider.findtext("domain") == "client.test"
    imap = provider.find("incomingServer[@type='imap']")
    assert (imap.findtext("hostname"), imap.findtext("port"), imap.findtext("socketType")) == (
        "imap.provider.test",
        "993",
        "SSL",
    )
    smtp = provider.find("outgoingServer")
    assert (smtp.findtext("hostname"), smtp.findtext("port"), smtp.findtext("socketType")) == (
        "smtp.provider.test",
        "587",
        "STARTTLS",
    )
    assert provider.findtext("displayShortName")  # the operator's product name
    # by host name, as Thunderbird asks through the autoconfig CNAME
    assert (
        client.get("/mail/config-v1.1.xml", HTTP_HOST="autoconfig.client.test").status_code == 200
    )
    assert (
        client.get("/mail/config-v1.1.xml", {"emailaddress": "x@unknown.test"}).status_code == 404
    )


def test_outlook_autodiscover_answers_the_pox_request(client, make_domain, settings):
    settings.ALLOWED_HOSTS = ["*"]
    make_domain("outlook.test")
    body = (
        '<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/'
        'autodiscover/outlook/requestschema/2006"><Request><EMailAddress>bob@outlook.test</EMailAddress>'
        "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
        "</AcceptableResponseSchema></Request></Autodiscover>"
    )
    response = client.post(
        "/autodiscover/autodiscover.xml",
        body,
        content_type="text/xml",
        HTTP_HOST="autodiscover.outlook.test",
    )
    assert response.status_code == 200
    ns = {"a": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
    protocols = ET.fromstring(response.content).findall(".//a:Protocol", ns)
    assert [
        (
            p.findtext("a:Type", namespaces=ns),
            p.findtext("a:Server", namespaces=ns),
            p.findtext("a:LoginName", namespaces=ns),
        )
        for p in protocols
    ] == [
        ("IMAP", "imap.provider.test", "bob@outlook.test"),
        ("SMTP", "smtp.provider.test", "bob@outlook.test"),
    ]


def test_the_apple_profile_is_per_mailbox_and_branded(alice_client, client, tenants, make_domain):
    make_domain("apple.test")
    mailbox_create(
        actor=Actor.for_user(tenants.alice),
        organization=tenants.acme,
        address="ann@apple.test",
        password="a-long-password-1",
        quota_mb=512,
        name="Ann",
    )
    outbox_drain()
    url = reverse(
        "dns:mobileconfig", kwargs={"org_slug": tenants.acme.slug, "address": "ann@apple.test"}
    )

    response = alice_client.get(url)

    assert response["Content-Type"] == "application/x-apple-aspen-config"
    profile = plistlib.loads(response.content)
    account = profile["PayloadContent"][0]
    assert (
        account["EmailAddress"] == "ann@apple.test"
        and account["IncomingMailServerHostName"] == "imap.provider.test"
    )
    assert account["OutgoingMailServerPortNumber"] == 587 and "IncomingPassword" not in account
    assert profile["PayloadOrganization"]  # the operator's product name
    client.force_login(tenants.bob)
    assert client.get(url).status_code == 404


def test_client_files_and_portal_use_the_operators_branded_hostnames(client, alice_client, tenants, make_domain, settings):
    from mailherd.core.actors import Actor
    from mailherd.hosting import services
    from mailherd.operator.models import Branding
    from mailherd.operator.selectors import branding_cache_clear

    settings.ALLOWED_HOSTS = ["*"]
    Branding.objects.create(pk=1, product_name="Acme Mail", imap_hostname="imap.brand.example",
                            smtp_hostname="smtp.brand.example", webmail_url="https://webmail.brand.example/")
    branding_cache_clear()
    domain = make_domain("client.test")
    root = ET.fromstring(client.get("/mail/config-v1.1.xml", {"emailaddress": "ann@client.test"}).content)
    provider = root.find("emailProvider")
    assert provider.find("incomingServer[@type='imap']").findtext("hostname") == "imap.brand.example"
    assert provider.find("outgoingServer").findtext("hostname") == "smtp.brand.example"
    assert domain.organization_id == tenants.acme.pk
    services.mailbox_create(actor=Actor.system(), organization=tenants.acme, address="ann@client.test", quota_mb=10)
    page = alice_client.get(f"/o/{tenants.acme.slug}/mailboxes/ann@client.test/").content.decode()
    assert "imap.brand.example" in page and "https://webmail.brand.example/" in page
