"""IMAP migration: a real login test against Debian's Dovecot, then the sync job on the simulator."""

import pytest

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.core.models import AuditEvent
from mailherd.hosting import services
from mailherd.hosting.imapcheck import SourceLoginFailed, imap_login_test
from mailherd.hosting.models import SyncJob
from mailherd.hosting.provisioning import outbox_drain
from mailherd.plans.models import Plan
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
# Every column Mailcow's imapsync table needs (reference §10; Mailcow's own form sends them all).
FULL_FIELD_SET = {
    "username", "host1", "port1", "user1", "password1", "enc1", "mins_interval", "subfolder2", "maxage",
    "maxbytespersecond", "timeout1", "timeout2", "exclude", "custom_params", "delete2duplicates", "delete1",
    "delete2", "automap", "skipcrossduplicates", "subscribeall", "dry", "active",
}  # fmt: skip


@pytest.fixture
def loopback_allowed(settings):
    settings.MAILHERD_ALLOW_PRIVATE_TARGETS = True  # the old server is a Dovecot on this machine


@pytest.fixture
def acme(tenants, mail_server, sim, loopback_allowed):
    tenants.acme.plan = Plan.objects.get(slug="business")  # has imap_migration
    tenants.acme.save(update_fields=["plan"])
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="jane@acme.test", quota_mb=10)
    outbox_drain()
    return tenants.acme


@pytest.fixture
def api(client, tenants):
    token = api_token_create(actor=SYSTEM, organization=tenants.acme, name="t")[1]

    def call(method, path, body=None):
        response = getattr(client, method)(
            "/api/v1" + path, data=body, content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        return response.status_code, (response.json() if response.content else None)

    return call


def _source(old_imap, **changes):
    return {"mailbox": "jane@acme.test", "host": "127.0.0.1", "port": old_imap.imap_port,
            "security": "plain", "user": "jane@old.test", "password": "old-secret-1", **changes}


def _reason(**kwargs):
    with pytest.raises(SourceLoginFailed) as caught:
        imap_login_test(**kwargs)
    return caught.value.fields["reason"], caught.value.message


def test_the_login_test_against_dovecot(old_imap, loopback_allowed):
    imap_login_test(host="127.0.0.1", port=old_imap.imap_port, security="plain",
                    user="jane@old.test", password="old-secret-1")
    reason, message = _reason(host="127.0.0.1", port=old_imap.imap_port, security="plain",
                              user="jane@old.test", password="wrong")
    assert reason == "wrong_credentials" and "refused the user name or password" in message
    reason, message = _reason(host="127.0.0.1", port=old_imap.imaps_port, security="ssl",
                              user="jane@old.test", password="old-secret-1")
    assert reason == "tls_failed" and "certificate" in message  # self-signed
    reason, message = _reason(host="127.0.0.1", port=old_imap.imap_port, security="ssl",
                              user="jane@old.test", password="old-secret-1")
    assert reason == "tls_failed" and "port" in message  # TLS spoken to a plain port
    reason, message = _reason(host="127.0.0.1", port=old_imap.imap_port, security="starttls",
                              user="jane@old.test", password="old-secret-1")
    assert reason == "tls_failed"  # STARTTLS works, the certificate does not verify
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    reason, message = _reason(host="127.0.0.1", port=closed, security="plain", user="u", password="p")
    assert reason == "unreachable" and "refused the connection" in message
    reason, message = _reason(host="no-such-host.invalid", port=993, security="ssl", user="u", password="p")
    assert reason == "unreachable" and "not found in DNS" in message


def test_loopback_is_refused_unless_the_operator_allows_it(old_imap, settings):
    from mailherd.core.netguard import TargetNotAllowed

    settings.MAILHERD_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(TargetNotAllowed):
        imap_login_test(host="127.0.0.1", port=old_imap.imap_port, security="plain", user="u", password="p")


def test_api_creates_the_job_after_a_real_login_with_every_field(old_imap, acme, api, sim):
    status, body = api("post", "/sync-jobs", _source(old_imap, password="wrong"))
    assert status == 422 and body["code"] == "source_login_failed" and body["reason"] == "wrong_credentials"
    assert not SyncJob.objects.exists() and not sim.state.syncjobs

    status, job = api("post", "/sync-jobs", _source(old_imap))
    assert status == 201, job
    assert job["status"] == "pending" and "password" not in job
    stored = SyncJob.objects.get()
    assert stored.password == "old-secret-1"  # decrypted by the field; encrypted in the table
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM hosting_syncjob")
        assert "old-secret-1" not in cursor.fetchone()[0]

    outbox_drain()
    [remote] = sim.state.syncjobs.values()
    assert set(remote.attrs) >= FULL_FIELD_SET
    assert remote.attrs["host1"] == "127.0.0.1" and remote.attrs["enc1"] == "PLAIN"
    assert remote.attrs["user1"] == "jane@old.test" and remote.attrs["password1"] == "old-secret-1"
    status, job = api("get", f"/sync-jobs/{job['id']}")
    assert job["status"] == "active" and job["last_run_at"] is None

    sim.state.run_syncjob(remote.id, success=True, log="Transferred 7 messages\n")
    status, job = api("get", f"/sync-jobs/{job['id']}")
    assert job["last_run_ok"] is True and "Transferred 7 messages" in job["last_log"]
    assert job["last_run_status"] == "EX_OK"

    status, again = api("post", "/sync-jobs", _source(old_imap))
    assert status == 409 and again["code"] == "sync_job_exists"

    status, job = api("post", f"/sync-jobs/{job['id']}/stop")
    assert job["active"] is False
    outbox_drain()
    assert remote.active == 0

    status, _ = api("delete", f"/sync-jobs/{job['id']}")
    assert status == 204
    assert not SyncJob.objects.exists()  # the old password is gone with it
    outbox_drain()
    assert not sim.state.syncjobs
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="syncjob.").order_by("id")] == [
        "syncjob.create", "syncjob.stop", "syncjob.delete",
    ]
    assert all("old-secret" not in str(e.data) for e in AuditEvent.objects.all())


def test_a_plan_without_imap_migration_is_refused_before_any_login(old_imap, tenants, mail_server, api,
                                                                    loopback_allowed):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="jane@acme.test", quota_mb=10)
    status, body = api("post", "/sync-jobs", _source(old_imap))
    assert status == 403 and "not part of the Starter plan" in body["message"]


def test_bad_input_gets_plain_errors(old_imap, acme, api):
    for changes, field in (({"security": "tls13"}, "security"), ({"port": 70000}, "port"),
                           ({"host": "imap.example.com/x"}, "host"), ({"user": " "}, "user"),
                           ({"mailbox": "nobody@acme.test"}, "mailbox")):
        status, body = api("post", "/sync-jobs", _source(old_imap, **changes))
        assert status in (404, 422) and body["field"] == field, (changes, body)


def test_another_organizations_job_is_404(old_imap, acme, api, tenants, client, sim):
    status, job = api("post", "/sync-jobs", _source(old_imap))
    token = api_token_create(actor=SYSTEM, organization=tenants.globex, name="g")[1]
    for method, suffix in (("get", ""), ("delete", ""), ("post", "/stop")):
        response = getattr(client, method)(f"/api/v1/sync-jobs/{job['id']}{suffix}",
                                           HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 404
    response = client.get("/api/v1/sync-jobs", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.json() == []
    assert SyncJob.objects.get().active


def test_portal_form_and_csv(old_imap, acme, alice_client, tenants, sim):
    page = alice_client.get("/o/acme/imports/").content.decode()
    assert "Test sign-in and import" in page
    response = alice_client.post("/o/acme/imports/", {**_source(old_imap, password="nope")}, follow=True)
    assert "refused the user name or password" in response.content.decode()
    response = alice_client.post("/o/acme/imports/", _source(old_imap), follow=True)
    assert "Signed in to 127.0.0.1" in response.content.decode()

    services.mailbox_create(actor=SYSTEM, organization=tenants.acme, address="joe@acme.test", quota_mb=10)
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv = (f"mailbox,host,port,security,user,password\n"
           f"joe@acme.test,127.0.0.1,{old_imap.imap_port},plain,joe@old.test,joes-pass-2\n"
           f"joe@acme.test,127.0.0.1,{old_imap.imap_port},plain,jane@old.test,bad\n")
    response = alice_client.post("/o/acme/imports/csv/",
                                 {"file": SimpleUploadedFile("jobs.csv", csv.encode(), "text/csv")})
    page = response.content.decode()
    assert page.count("Created") == 1 and "Refused" in page and "refused the user name" in page
    assert SyncJob.objects.count() == 2
    job = SyncJob.objects.get(mailbox__address="joe@acme.test")
    page = alice_client.get(f"/o/acme/imports/{job.pk}/").content.decode()
    assert "joe@old.test" in page and "joes-pass-2" not in page
    assert alice_client.get("/o/globex/imports/").status_code == 404
