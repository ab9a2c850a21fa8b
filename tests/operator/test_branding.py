"""White-label branding: edited in the back office, applied to pages and emails, never "Mailherd"."""

import re
from html import unescape
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from django.core import mail
from django.template import engines

from mailherd.core.actors import Actor
from mailherd.notifications.services import email_send
from mailherd.operator.models import Branding
from mailherd.operator.selectors import branding_get
from tests.conftest import PASSWORD, make_user
from tests.hosting.conftest import mail_server, sim  # noqa: F401  (fixtures)
from tests.operator.fixtures import BRAND

pytestmark = pytest.mark.django_db

BRANDED_ADAPTERS = {
    "ACCOUNT_ADAPTER": "mailherd.notifications.adapters.BrandedAccountAdapter",
    "MFA_ADAPTER": "mailherd.notifications.adapters.BrandedMFAAdapter",
}
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201"
    "b2b3a1d90000000049454e44ae426082"
)


def branding_form(**overrides):
    data = {key: value for key, value in BRAND.items()}
    data.update(
        {
            "logo_url": "",
            "imprint_url": "",
            "portal_url": "",
            "webmail_url": "",
            "imap_hostname": "",
            "smtp_hostname": "",
        }
    )
    data.update(overrides)
    return data


def test_the_default_brand_is_the_product_name_from_settings(db):
    assert branding_get().product_name == "Mailherd"


def test_branding_is_edited_in_the_back_office_and_applies_at_once(ops_client, tenants):
    # the list page opens the single branding record
    assert (
        ops_client.get("/operator/operator/branding/")["Location"]
        == "/operator/operator/branding/add/"
    )
    from django.core.files.uploadedfile import SimpleUploadedFile

    logo = SimpleUploadedFile("logo.png", PNG, content_type="image/png")
    response = ops_client.post(
        "/operator/operator/branding/add/", {**branding_form(), "logo_upload": logo}
    )
    assert response.status_code == 302, response.content
    assert Branding.objects.get().logo_content_type == "image/png"
    assert (
        ops_client.get("/operator/operator/branding/")["Location"]
        == "/operator/operator/branding/1/change/"
    )

    from django.test import Client

    customer = Client()
    customer.force_login(tenants.alice)
    page = customer.get(f"/o/{tenants.acme.slug}/").content.decode()
    assert "Nimbus Post" in page and "--brand: #0f766e" in page
    assert "https://nimbus.example/terms" in page and "help@nimbus.example" in page
    logo_src = re.search(r'class="brand-logo" src="([^"]+)"', page).group(1)
    image = customer.get(logo_src)
    assert (
        image.status_code == 200 and image["Content-Type"] == "image/png" and image.content == PNG
    )
    # a second change is visible on the next request (no deploy, no stale cache)
    ops_client.post(
        "/operator/operator/branding/1/change/", branding_form(product_name="Nimbus Mail")
    )
    assert "Nimbus Mail" in customer.get(f"/o/{tenants.acme.slug}/").content.decode()
    assert Branding.objects.count() == 1


def test_a_logo_that_is_not_an_image_is_refused(ops_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    page = SimpleUploadedFile("x.html", b"<script>", content_type="text/html")
    response = ops_client.post(
        "/operator/operator/branding/add/", {**branding_form(), "logo_upload": page}
    )
    assert response.status_code == 200 and b"must be a PNG, SVG" in response.content
    assert not Branding.objects.exists()


def test_colours_must_be_hex(ops_client):
    response = ops_client.post(
        "/operator/operator/branding/add/", branding_form(primary_color="#12zz;}")
    )
    assert b"Use a colour like" in response.content


def test_the_verification_word_is_a_dns_label(ops_client):
    response = ops_client.post(
        "/operator/operator/branding/add/", branding_form(verification_word="Not OK!")
    )
    assert response.status_code == 200 and b"Lower-case letters" in response.content


def test_emails_carry_the_brand_and_its_sender(custom_brand, tenants):
    email_send(
        to="dave@acme.test",
        template="invitation",
        context={
            "inviter": "alice@acme.test",
            "organization": "Acme",
            "role": "member",
            "link": "http://x/i/1/",
        },
    )
    message = mail.outbox[-1]
    assert message.from_email == "Nimbus Post <hello@nimbus.example>"
    assert "Nimbus Post" in message.subject and "Nimbus Post" in message.body


# --- "Mailherd" appears nowhere a customer looks ---------------------------------------------


def _email_templates() -> list[str]:
    """Every `emails/<name>_subject.txt` any template directory provides."""
    from django.template.utils import get_app_template_dirs

    names = set()
    directories = [d for engine in engines.all() for d in engine.template_dirs]
    for directory in [*directories, *get_app_template_dirs("templates")]:
        for path in Path(directory).glob("emails/*_subject.txt"):
            names.add(path.name.removesuffix("_subject.txt"))
    return sorted(names)


class Anything(str):
    """A sample context value: any attribute, item or loop gives a harmless sample again."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Anything(f"sample {name}")

    def __getitem__(self, key):
        return Anything("sample")

    def __iter__(self):
        return iter([Anything("sample")])


class SampleContext(dict):
    def __missing__(self, key):
        return Anything(f"sample {key}")


def test_every_email_template_is_free_of_the_old_name(custom_brand, tenants):
    names = _email_templates()
    assert {"invitation", "announcement"} <= set(names)
    for name in names:
        context = SampleContext(organization_name="Acme", link="https://portal.nimbus.example/x/")
        email_send(to="sample@acme.test", template=name, context=context, organization=tenants.acme)
    assert len(mail.outbox) == len(names)
    for message in mail.outbox:
        rendered = "\n".join(
            [
                message.subject,
                message.from_email,
                message.body,
                *(a[0] for a in message.alternatives),
            ]
        )
        assert not old_name_in(rendered), message.subject


def test_account_emails_are_branded_and_logged(client, custom_brand, settings, db):
    from mailherd.notifications.models import NotificationLog

    for key, value in BRANDED_ADAPTERS.items():
        setattr(settings, key, value)
    make_user("erin@acme.test")
    client.post("/accounts/password/reset/", {"email": "erin@acme.test"})
    client.post(
        "/accounts/signup/",
        {"email": "frank@acme.test", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        rendered = "\n".join(
            [
                message.subject,
                message.from_email,
                message.body,
                *(a[0] for a in getattr(message, "alternatives", [])),
            ]
        )
        assert not old_name_in(rendered)
        assert message.from_email == "Nimbus Post <hello@nimbus.example>"
        assert message.subject.startswith("[Nimbus Post]")
    assert NotificationLog.objects.filter(status="sent").count() == 2


SKIP = ("/accounts/logout/", "/operator/", "/static/", "/branding/logo/")
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-apple-aspen-config")


def crawl(client, starts: list[str], limit: int = 300) -> dict[str, str]:
    """GET every same-site page reachable by links from `starts`; return {path: text}.

    Non-HTML answers (zone file, autoconfig XML, .mobileconfig, JSON) are kept too.
    """
    seen: dict[str, str] = {}
    queue = list(starts)
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen or path.startswith(SKIP):
            continue
        response = client.get(path, follow=True)
        final = response.redirect_chain[-1][0] if response.redirect_chain else path
        content_type = response.get("Content-Type", "")
        if not content_type.startswith(TEXT_TYPES) or response.status_code >= 400:
            continue
        text = b"".join(response.streaming_content) if response.streaming else response.content
        text = text.decode("utf-8", errors="replace")
        seen[path] = text
        if not content_type.startswith("text/html"):
            continue
        for href in re.findall(r'(?:href|src)="([^"#]+)"', text):
            url = urlparse(urljoin(final, unescape(href)))
            if url.scheme in ("http", "https", "") and url.netloc in ("", "testserver"):
                queue.append(url.path + (f"?{url.query}" if url.query else ""))
    return seen


def old_name_in(text: str) -> str:
    """The first place the old name appears (any case), with some context; "" when none.

    Paths of static assets (/static/mailherd/app.css) are file names, not text anyone reads.
    """
    text = re.sub(r"/static/[^\s\"'()]+", "/static/…", text)
    at = text.lower().find("mailherd")
    return "" if at < 0 else text[max(0, at - 80) : at + 40]


def test_no_customer_page_says_mailherd_under_a_custom_brand(
    client,
    custom_brand,
    tenants,
    settings,
    mail_server,  # noqa: F811
):
    for key, value in BRANDED_ADAPTERS.items():
        setattr(settings, key, value)
    from mailherd.core.audit import audit_record

    audit_record(actor=Actor.system(), action="sample.event", organization=tenants.acme)
    # some hosted objects, so that their pages are reached too
    from mailherd.hosting.services import alias_create, mailbox_create
    from tests.hosting.conftest import verified_domain

    verified_domain(tenants.acme, "acme.test")
    owner = Actor.for_user(tenants.alice)
    mailbox_create(
        actor=owner, organization=tenants.acme, address="info@acme.test", password=PASSWORD + "X1!"
    )
    alias_create(
        actor=owner, organization=tenants.acme, address="sales@acme.test", goto=["info@acme.test"]
    )
    # signed out: the landing page and every account page linked from it, client set-up files
    anonymous = crawl(
        client,
        [
            "/",
            "/accounts/login/",
            "/accounts/signup/",
            "/accounts/password/reset/",
            "/mail/config-v1.1.xml?emailaddress=info@acme.test",
            "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=info@acme.test",
            "/api/v1/docs",
            "/api/v1/openapi.json",
        ],
    )
    # signed in as an owner: everything reachable from the dashboard, and the audit trail
    client.force_login(tenants.alice)
    signed_in = crawl(
        client,
        [
            f"/o/{tenants.acme.slug}/",
            f"/o/{tenants.acme.slug}/audit/",
            "/accounts/email/",
            "/accounts/2fa/",
            "/accounts/2fa/totp/activate/",
            "/accounts/password/change/",
            "/portal/new-organization/",
        ],
    )
    pages = {**anonymous, **signed_in}
    assert len(pages) >= 12, sorted(pages)
    assert f"/o/{tenants.acme.slug}/members/" in pages
    assert "/api/v1/openapi.json" in pages
    non_html = [p for p in pages if p.split("?")[0].endswith((".xml", ".mobileconfig", "/zone/"))]
    assert len(non_html) >= 3, non_html  # autoconfig, a mailbox's .mobileconfig, the zone file
    offending = {path: old_name_in(text) for path, text in pages.items() if old_name_in(text)}
    assert offending == {}
    print("crawled:", *sorted(pages), sep="\n  ")
