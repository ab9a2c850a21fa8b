import pytest

from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.models import Mailbox
from mailherd.tenancy.models import Membership
from tests.conftest import make_user
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def test_add_domain_shows_the_txt_record_to_publish(alice_client, tenants):
    response = alice_client.post("/o/acme/domains/", {"name": "Bücher.example"}, follow=True)
    assert response.status_code == 200
    content = response.content.decode()
    assert "bücher.example" in content and "_domain-verify.xn--bcher-kva.example" in content
    assert "Verify now" in content


def test_bad_domain_name_shows_an_error(alice_client, tenants):
    response = alice_client.post("/o/acme/domains/", {"name": "not a domain"})
    assert "A domain name cannot contain spaces." in response.content.decode()


def test_create_mailbox_shows_the_generated_password_once(alice_client, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    response = alice_client.post(
        "/o/acme/mailboxes/new/",
        {"local_part": "carol", "domain": "acme.test", "quota_mb": 100, "name": "Carol"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/o/acme/mailboxes/carol@acme.test/"
    assert b"will not be shown again" in response.content
    again = alice_client.get("/o/acme/mailboxes/carol@acme.test/")
    assert b"will not be shown again" not in again.content
    assert b"imap.provider.test" in again.content  # connection details from the server


def test_the_plan_limit_message_is_shown_in_the_form(alice_client, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    response = alice_client.post(
        "/o/acme/mailboxes/new/", {"local_part": "huge", "domain": "acme.test", "quota_mb": 20000}
    )
    assert b"Upgrade your plan" in response.content
    assert not Mailbox.objects.exists()


def test_mailbox_list_searches_and_paginates_with_htmx(alice_client, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    tenants.acme.plan.max_mailboxes = 100
    tenants.acme.plan.save()
    for number in range(30):
        services.mailbox_create(
            actor=SYSTEM,
            organization=tenants.acme,
            address=f"user{number:02d}@acme.test",
            quota_mb=10,
        )
    page = alice_client.get("/o/acme/mailboxes/")
    assert b"Page 1 of 2" in page.content
    fragment = alice_client.get("/o/acme/mailboxes/?q=user07", HTTP_HX_REQUEST="true")
    assert b"user07@acme.test" in fragment.content and b"user08@acme.test" not in fragment.content
    assert b"<html" not in fragment.content  # just the rows


def test_members_can_look_but_not_change(client, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    viewer = make_user("viewer@acme.test")
    Membership.objects.create(organization=tenants.acme, user=viewer, role="member")
    client.force_login(viewer)
    assert client.get("/o/acme/mailboxes/").status_code == 200
    response = client.post(
        "/o/acme/mailboxes/new/",
        {"local_part": "x", "domain": "acme.test", "quota_mb": 10},
        follow=True,
    )
    assert b"Only owners and admins" in response.content
    assert not Mailbox.objects.exists()


def test_domain_removal_needs_the_typed_name(alice_client, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    response = alice_client.post(
        "/o/acme/domains/acme.test/delete/", {"confirm": "nope"}, follow=True
    )
    assert b"Type acme.test to confirm" in response.content
    response = alice_client.post(
        "/o/acme/domains/acme.test/delete/", {"confirm": "acme.test"}, follow=True
    )
    assert b"are being removed" in response.content


def test_dashboard_shows_usage_against_the_plan(alice_client, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="a@acme.test", quota_mb=512
    )
    content = alice_client.get("/o/acme/").content.decode()
    assert "1 of 10" in content and "512 MiB of 10 GiB" in content  # the landing page's units
