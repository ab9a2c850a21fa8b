"""Pages that look finished: error pages with a way back, favicon, user menu, invitations, onboarding."""

import pytest

from mailherd.core.actors import Actor
from mailherd.tenancy.services import invitation_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("signed_in", [False, True])
def test_a_missing_page_is_branded_with_a_way_back(client, tenants, settings, signed_in):
    settings.DEBUG = False
    if signed_in:
        client.force_login(tenants.alice)
    # another organization's page is a 404 too (signed out, any unknown address)
    response = client.get("/o/globex/" if signed_in else "/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "This page does not exist" in html and 'class="topbar"' in html
    if signed_in:
        assert 'href="/portal/">Back to your dashboard</a>' in html
    else:
        assert 'href="/">Go to the home page</a>' in html


def test_403_and_500_pages_have_a_way_back(rf):
    from django.template.loader import render_to_string

    assert "Back to your dashboard" in render_to_string("500.html")
    html = render_to_string("403.html", request=rf.get("/"))
    assert "You cannot open this page" in html and "Go to the home page" in html


def test_favicon_is_linked_and_served(client):
    html = client.get("/").content.decode()
    assert 'rel="icon" href="/static/mailherd/favicon.svg"' in html
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/mailherd/favicon.svg"


def test_the_user_menu_says_it_opens(alice_client, tenants):
    html = alice_client.get("/o/acme/").content.decode()
    assert 'aria-label="Account menu for alice@acme.test"' in html
    from pathlib import Path

    import mailherd

    css = (Path(mailherd.__file__).parent / "static/mailherd/app.css").read_text()
    assert ".menu summary::after" in css  # the caret


def test_reinviting_with_another_role_says_so(alice_client, tenants):
    invitation_create(
        actor=Actor.for_user(tenants.alice),
        membership=tenants.alice_membership,
        email="kim@acme.test",
        role="admin",
    )
    response = alice_client.post(
        "/o/acme/members/", {"email": "kim@acme.test", "role": "member"}, follow=True
    )
    html = response.content.decode()
    assert (
        "Invitation sent again to kim@acme.test, now as Member (the earlier one, as Admin, no longer works)."
        in html
    )
    # the same role again is a plain resend
    response = alice_client.post(
        "/o/acme/members/", {"email": "kim@acme.test", "role": "member"}, follow=True
    )
    assert "Invitation sent to kim@acme.test." in response.content.decode()


def test_the_dashboard_checklist_follows_the_customer(alice_client, tenants, mail_server):
    from mailherd.hosting import services
    from mailherd.hosting.services import domain_add
    from tests.hosting.conftest import verified_domain

    def state():
        html = alice_client.get("/o/acme/").content.decode()
        import re

        return dict(re.findall(r'data-step="(\w+)" data-done="(yes|no)"', html)), html

    steps, html = state()
    assert steps == dict.fromkeys(
        ["domain", "txt", "verified", "records", "mailbox", "client"], "no"
    )
    assert 'href="/o/acme/domains/">Add a domain</a>' in html
    domain_add(actor=Actor.system(), organization=tenants.acme, name="later.test")
    steps, html = state()
    assert steps["domain"] == "yes" and steps["txt"] == "no"
    assert (
        "_domain-verify.<wbr>later.<wbr>test" in html
    )  # the record to publish, on the dashboard
    verified_domain(tenants.acme, "acme.test")
    steps, html = state()
    assert (steps["txt"], steps["verified"], steps["records"]) == ("yes", "yes", "no")
    assert 'href="/o/acme/domains/acme.test/dns/">Show the records</a>' in html
    services.mailbox_create(
        actor=Actor.system(), organization=tenants.acme, address="ann@acme.test", quota_mb=10
    )
    steps, _ = state()
    assert steps["mailbox"] == "yes"
    # htmx polls only the checklist
    partial = alice_client.get("/o/acme/", HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<section class="card" id="onboarding"')
