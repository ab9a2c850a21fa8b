"""App passwords: API, portal (the mailbox's own page) and the outbox to Mailcow."""

from django.db import connection
from django.urls import reverse

from mailherd.core.actors import Actor
from mailherd.hosting.models import Mailbox
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services.mailboxes import mailbox_create
from mailherd.tenancy.models import Membership, Role
from tests.conftest import make_user


def test_create_list_and_revoke_through_the_api(api, tenants, sim, sim_acme):
    mailbox_create(actor=Actor.system(), organization=tenants.acme, address="jane@acme.test")
    status, created = api(
        "post",
        "/mailboxes/jane@acme.test/app-passwords",
        {"name": "Thunderbird", "protocols": ["imap", "smtp", "dav"]},
    )
    assert status == 201, created
    assert created["id"] and len(created["password"]) >= 20 and created["status"] == "pending"
    outbox_drain()
    [on_server] = [p for p in sim.state.app_passwords.values() if p.mailbox == "jane@acme.test"]
    assert on_server.name == f"Thunderbird (#{created['id']})"
    assert on_server.protocols == {"imap_access", "smtp_access", "dav_access"}
    status, listed = api("get", "/mailboxes/jane@acme.test/app-passwords")
    assert status == 200 and listed == [
        {k: v for k, v in created.items() if k != "password"} | {"status": "active"}
    ]
    assert "password" not in listed[0]
    with connection.cursor() as cursor:  # the password itself is nowhere in the database
        for table in ("webmail_apppassword", "hosting_provisioningop"):
            cursor.execute(f"SELECT * FROM {table}")
            assert created["password"] not in repr(cursor.fetchall())
    status, _ = api("delete", f"/mailboxes/jane@acme.test/app-passwords/{created['id']}")
    assert status == 204
    outbox_drain()
    assert not [p for p in sim.state.app_passwords.values() if p.mailbox == "jane@acme.test"]
    status, error = api("delete", f"/mailboxes/jane@acme.test/app-passwords/{created['id']}")
    assert status == 404


def test_bad_input_and_other_organizations(api, tenants, sim_acme):
    mailbox_create(actor=Actor.system(), organization=tenants.acme, address="jane@acme.test")
    status, error = api(
        "post",
        "/mailboxes/jane@acme.test/app-passwords",
        {"name": "Phone", "protocols": ["imap", "ftp"]},
    )
    assert status == 422 and error["field"] == "protocols" and "ftp" in error["message"]
    status, error = api("post", "/mailboxes/jane@acme.test/app-passwords", {"name": "  "})
    assert status == 422 and error["field"] == "name"
    status, _ = api("post", "/mailboxes/bob@globex.test/app-passwords", {"name": "x"})
    assert status == 404
    status, _ = api("get", "/mailboxes/bob@globex.test/app-passwords")
    assert status == 404


def test_created_before_the_mailbox_reaches_the_server_applies_after_it(
    api, tenants, sim, sim_acme
):
    mailbox_create(actor=Actor.system(), organization=tenants.acme, address="new@acme.test")
    status, created = api("post", "/mailboxes/new@acme.test/app-passwords", {"name": "Phone"})
    assert status == 201
    outbox_drain()  # mailbox.create first (same object key), then the app password
    assert [p.mailbox for p in sim.state.app_passwords.values()] == ["new@acme.test"]


def test_mailbox_user_manages_app_passwords_on_their_own_page(client, tenants, sim, sim_acme):
    carol = make_user("carol@acme.test")
    Membership.objects.create(organization=tenants.acme, user=carol, role=Role.MEMBER)
    mailbox, _ = mailbox_create(
        actor=Actor.system(), organization=tenants.acme, address="carol@acme.test"
    )
    Mailbox.objects.filter(pk=mailbox.pk).update(user=carol, sso=True)
    client.force_login(carol)
    page = f"/o/{tenants.acme.slug}/my-mailboxes/carol@acme.test/"
    response = client.post(
        page, {"form": "app_password", "name": "iPhone", "protocols": ["imap", "smtp"]}
    )
    assert response.status_code == 302
    html = client.get(page).content.decode()
    assert "copy it now" in html and "iPhone" in html
    assert "copy it now" not in client.get(page).content.decode()  # shown once
    assert "has no password of its own" in html  # sso: no password form
    row = mailbox.app_passwords.get()
    client.post(page, {"form": "revoke", "id": row.pk})
    assert not mailbox.app_passwords.exists()
    # Someone else's mailbox page is not there for her.
    other, _ = mailbox_create(
        actor=Actor.system(), organization=tenants.acme, address="dave@acme.test"
    )
    assert client.get(f"/o/{tenants.acme.slug}/my-mailboxes/dave@acme.test/").status_code == 404
    client.force_login(tenants.bob)
    assert client.get(page).status_code == 404


def test_password_mode_user_changes_the_mailbox_password(client, tenants, sim, sim_acme):
    carol = make_user("carol@acme.test")
    Membership.objects.create(organization=tenants.acme, user=carol, role=Role.MEMBER)
    mailbox, _ = mailbox_create(
        actor=Actor.system(), organization=tenants.acme, address="carol@acme.test"
    )
    Mailbox.objects.filter(pk=mailbox.pk).update(user=carol)
    outbox_drain()
    before = sim.state.mailboxes["carol@acme.test"].password
    client.force_login(carol)
    page = f"/o/{tenants.acme.slug}/my-mailboxes/carol@acme.test/"
    response = client.post(
        page, {"form": "password", "password": "New-Secret-Pass-2026", "password2": "different"}
    )
    assert "The two passwords differ" in response.content.decode()
    response = client.post(
        page,
        {
            "form": "password",
            "password": "New-Secret-Pass-2026",
            "password2": "New-Secret-Pass-2026",
        },
    )
    assert response.status_code == 302
    outbox_drain()
    assert sim.state.mailboxes["carol@acme.test"].password != before


def test_setup_files_tell_sso_users_to_use_an_app_password(client, tenants, sim_acme):
    mailbox, _ = mailbox_create(
        actor=Actor.system(), organization=tenants.acme, address="jane@acme.test"
    )
    client.force_login(tenants.alice)
    url = reverse("dns:mobileconfig", args=[tenants.acme.slug, "jane@acme.test"])
    assert "app password" not in client.get(url).content.decode()
    assert (
        "app password"
        not in client.get(
            "/mail/config-v1.1.xml", {"emailaddress": "jane@acme.test"}
        ).content.decode()
    )
    Mailbox.objects.filter(pk=mailbox.pk).update(sso=True)
    assert "enter an app password" in client.get(url).content.decode()
    config = client.get("/mail/config-v1.1.xml", {"emailaddress": "jane@acme.test"})
    assert config.status_code == 200 and "Use an app password" in config.content.decode()
