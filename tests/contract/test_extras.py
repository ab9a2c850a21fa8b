"""DKIM, rate limits, quarantine, relayhosts, domain admins, app passwords,
sync jobs, Sieve filters (§5.4-5.6)."""

from __future__ import annotations

import pytest

from mailherd.mailcow.client import (
    MailcowAlreadyExists,
    MailcowClient,
    MailcowInvalidInput,
    MailcowNotFound,
    MailcowValidationError,
    Protocol,
    RateLimit,
)

from .conftest import MailcowTarget
from .test_auth_transport import raw

PASSWORD = "Secret-pass-1"


def test_dkim_rotation_needs_a_delete_first(mc: MailcowClient, domain: str) -> None:
    with pytest.raises(MailcowAlreadyExists) as caught:
        mc.add_dkim(domain, selector="mail2026", key_size=1024)
    assert caught.value.msg_key == "dkim_domain_or_sel_invalid"
    mc.delete_dkim(domain)
    assert mc.get_dkim(domain) is None
    assert mc.add_dkim(domain, selector="mail2026", key_size=1024).msg_keys == ("dkim_added",)
    key = mc.get_dkim(domain)
    assert key is not None and (key.selector, key.length) == ("mail2026", 1024)


def test_an_imported_dkim_key_replaces_the_servers_and_comes_back_after_a_delete(
    mc: MailcowClient, domain: str
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    import base64

    public = base64.b64encode(
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    # without overwrite, an existing key stays
    with pytest.raises(MailcowAlreadyExists) as caught:
        mc.import_dkim(domain, private_key_pem=pem, selector="kept", overwrite=False)
    assert caught.value.msg_key == "dkim_domain_or_sel_exists"
    assert mc.get_dkim(domain).public_key != public
    assert mc.import_dkim(domain, private_key_pem=pem, selector="kept").msg_keys == ("dkim_added",)
    installed = mc.get_dkim(domain)
    assert (installed.public_key, installed.selector, installed.length) == (public, "kept", 1024)
    assert installed.txt == f"v=DKIM1;k=rsa;t=s;s=email;p={public}"
    assert installed.private_key == ""  # hidden unless the server shows private keys
    # deleted on the server, put back exactly: the published record stays valid
    mc.delete_dkim(domain)
    mc.import_dkim(domain, private_key_pem=pem, selector="kept")
    assert mc.get_dkim(domain) == installed
    with pytest.raises(MailcowInvalidInput) as caught:
        mc.import_dkim(domain, private_key_pem="-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----")
    assert caught.value.msg_key == "private_key_error"


def test_a_domain_added_with_key_size_0_gets_no_dkim_key(
    mc: MailcowClient, target: MailcowTarget, cleanup
) -> None:
    name = target.unique_domain("nokey")
    cleanup.domains.append(name)
    added = mc.add_domain(name, quota_mib=1024, max_mailbox_quota_mib=1024, default_mailbox_quota_mib=512, dkim_key_size=0)
    assert added.msg_keys[-1] == "domain_added" and "dkim_added" not in added.msg_keys
    assert mc.get_dkim(name) is None


def test_dkim_for_an_unknown_domain_is_not_found(mc: MailcowClient, target: MailcowTarget) -> None:
    with pytest.raises(MailcowNotFound):
        mc.add_dkim(target.unique_domain("ghost"))
    with pytest.raises(MailcowValidationError):
        mc.add_dkim("acme.test", selector="bad/selector")


def test_domain_rate_limits(mc: MailcowClient, domain: str, mailbox: str) -> None:
    assert mc.get_domain_rate_limit(domain) is None
    assert mc.set_domain_rate_limit(domain, 100, "h").msg_keys == ("rl_saved",)
    assert mc.get_domain_rate_limit(domain) == RateLimit(100, "h")
    assert mc.list_domain_rate_limits()[domain] == RateLimit(100, "h")
    # a mailbox shows the inherited limit, its own rate-limit endpoint does not
    got = mc.get_mailbox(mailbox)
    assert (
        got is not None
        and got.rate_limit == RateLimit(100, "h")
        and got.rate_limit_scope == "domain"
    )
    assert mc.get_mailbox_rate_limit(mailbox) is None
    mc.clear_domain_rate_limit(domain)
    assert mc.get_domain_rate_limit(domain) is None
    assert domain not in mc.list_domain_rate_limits()


def test_mailbox_rate_limits(mc: MailcowClient, mailbox: str) -> None:
    mc.set_mailbox_rate_limit(mailbox, 20, "m")
    assert mc.get_mailbox_rate_limit(mailbox) == RateLimit(20, "m")
    assert mc.list_mailbox_rate_limits()[mailbox] == RateLimit(20, "m")
    assert mc.get_mailbox(mailbox).rate_limit_scope == "mailbox"  # type: ignore[union-attr]
    mc.clear_mailbox_rate_limit(mailbox)
    assert mc.get_mailbox_rate_limit(mailbox) is None


def test_rate_limit_errors(mc: MailcowClient, target: MailcowTarget, domain: str) -> None:
    with pytest.raises(MailcowValidationError):
        mc.set_domain_rate_limit(domain, 10, "w")
    with pytest.raises(MailcowValidationError):
        mc.set_domain_rate_limit(domain, -1, "s")
    with pytest.raises(MailcowInvalidInput) as caught:
        mc._t.write(
            "edit/rl-domain", {"items": [domain], "attr": {"rl_value": "5", "rl_frame": "w"}}
        )
    assert caught.value.msg_key == "rl_timeframe"
    with pytest.raises(MailcowNotFound):
        mc.set_domain_rate_limit(target.unique_domain("ghost"), 10, "s")


def test_the_quarantine_lists_releases_and_deletes(
    mc: MailcowClient, target: MailcowTarget, mailbox: str
) -> None:
    if target.sim is None:
        # A real server's quarantine is filled by rspamd: only the list shape is checked.
        assert isinstance(mc.list_quarantine(), list)
        return
    assert mc.list_quarantine() == []
    first = target.sim.add_quarantine_item(rcpt=mailbox, subject="Win a prize", score=17.5)
    second = target.sim.add_quarantine_item(rcpt=mailbox, virus=True)
    items = mc.list_quarantine()
    assert [i.id for i in items] == [first, second]
    assert items[0].recipient == mailbox and items[0].score == 17.5 and items[1].virus
    assert "item_released" in mc.release_quarantine(first).msg_keys
    assert mc.delete_quarantine(second).msg_keys == ("item_deleted",)
    assert mc.list_quarantine() == []
    assert target.sim.summary()["released"] == [first]


def test_relayhosts_are_added_listed_assigned_and_deleted(mc: MailcowClient, domain: str) -> None:
    host = mc.add_relayhost("[smtp.relay.example]:587", username="relayuser", password="relaypass")
    assert host.id > 0 and host.hostname == "[smtp.relay.example]:587"
    assert "relaypass" not in repr(host)
    assert mc.get_relayhost(host.id) == host
    mc.assign_relayhost(domain, host.id)
    assert mc.get_domain(domain).relayhost_id == host.id  # type: ignore[union-attr]
    assert mc.get_relayhost(host.id).used_by_domains == (domain,)  # type: ignore[union-attr]
    mc.assign_relayhost(domain, None)
    assert mc.get_domain(domain).relayhost_id is None  # type: ignore[union-attr]
    assert mc.delete_relayhost(host.id).msg_keys == ("relayhost_removed",)
    assert mc.get_relayhost(host.id) is None
    with pytest.raises(MailcowInvalidInput):
        mc._t.write("add/relayhost", {"hostname": ""})


def test_domain_admins_and_their_sso_token(
    mc: MailcowClient, target: MailcowTarget, domain: str
) -> None:
    username = f"admin{target.run_id}"
    assert mc.add_domain_admin(username, password=PASSWORD, domains=[domain]).msg_keys == (
        "domain_admin_added",
    )
    try:
        admin = mc.get_domain_admin(username)
        assert admin is not None and admin.domains == (domain,) and admin.active
        assert username in {a.username for a in mc.list_domain_admins()}
        with pytest.raises(MailcowAlreadyExists):
            mc.add_domain_admin(username, password=PASSWORD, domains=[domain])
        token = mc.issue_domain_admin_sso_token(username)
        assert token.username == username and token.token and token.token not in repr(token)
    finally:
        mc.delete_domain_admin(username)
    assert mc.get_domain_admin(username) is None
    with pytest.raises(MailcowNotFound):
        mc.issue_domain_admin_sso_token(username)
    with pytest.raises(MailcowValidationError):
        mc.add_domain_admin("bad name!", password=PASSWORD, domains=[domain])


def test_app_passwords(mc: MailcowClient, mailbox: str) -> None:
    app = mc.add_app_password(
        mailbox, name="Thunderbird", password="App-pass-123", protocols=[Protocol.IMAP, "smtp"]
    )
    assert app.mailbox == mailbox and app.protocols == {Protocol.IMAP, Protocol.SMTP} and app.active
    assert [a.id for a in mc.list_app_passwords(mailbox)] == [app.id]
    assert mc.delete_app_password(app.id).msg_keys == ("app_passwd_removed",)
    assert mc.list_app_passwords(mailbox) == []


def test_app_password_for_an_unknown_mailbox_is_not_found(mc: MailcowClient, domain: str) -> None:
    with pytest.raises(MailcowNotFound):
        mc.add_app_password(f"ghost@{domain}", name="x", password="App-pass-123")


def test_sync_jobs(mc: MailcowClient, mailbox: str) -> None:
    job = mc.add_sync_job(
        mailbox, host="imap.old.example", user="alice", password="oldpass", port=993
    )
    assert (job.mailbox, job.host, job.port, job.encryption) == (
        mailbox,
        "imap.old.example",
        993,
        "SSL",
    )
    assert job.id in {j.id for j in mc.list_sync_jobs()}
    assert mc.delete_sync_job(job.id).msg_keys == ("deleted_syncjob",)
    with pytest.raises(MailcowValidationError):
        mc.add_sync_job(mailbox, host="imap.old.example", user="a", password="p", port=70000)


def test_a_sync_job_carries_every_column_mailcow_needs(
    mc: MailcowClient, target: MailcowTarget, mailbox: str
) -> None:
    job = mc.add_sync_job(
        mailbox,
        host="imap.older.example",
        user="bob",
        password="oldpass",
        port=143,
        encryption="TLS",
        subfolder="Imported",
        max_age_days=30,
    )
    try:
        with raw(target, headers={"X-API-Key": target.api_key}) as http:
            listed = {j["id"]: j for j in http.get("/get/syncjobs/all/no_log").json()}
        row = listed[job.id]
        assert (row["subfolder2"], str(row["maxage"]), row["enc1"]) == ("Imported", "30", "TLS")
        assert row["exclude"] == "(?i)spam|(?i)junk"
        assert str(row["timeout1"]) == str(row["timeout2"]) == "600"
        # the same source account into the same mailbox twice is refused
        with pytest.raises(MailcowAlreadyExists):
            mc.add_sync_job(mailbox, host="IMAP.older.example", user="bob", password="x" * 8)
    finally:
        mc.delete_sync_job(job.id)


@pytest.mark.sim_only
def test_a_sync_job_without_its_full_field_set_is_an_empty_200(
    target: MailcowTarget, mailbox: str
) -> None:
    # what a partial field set gets from a real Mailcow (reference §10): nothing is created
    partial = {
        "username": mailbox,
        "host1": "imap.old.example",
        "port1": 993,
        "user1": "alice",
        "password1": "oldpass",
        "enc1": "SSL",
        "mins_interval": 20,
        "delete1": 0,
        "active": 1,
    }
    with raw(target, headers={"X-API-Key": target.api_key}) as http:
        response = http.post("/add/syncjob", json=partial)
        assert (response.status_code, response.content) == (200, b"")
        assert not [j for j in http.get("/get/syncjobs/all/no_log").json() if j["user2"] == mailbox]


def test_sieve_filters(mc: MailcowClient, mailbox: str) -> None:
    script = (
        'require "fileinto";\r\nif header :contains "Subject" "[SPAM]" {\r\n  fileinto "Junk";\r\n}'
    )
    sieve = mc.add_sieve_filter(mailbox, script=script, description="Move spam")
    assert (sieve.mailbox, sieve.filter_type, sieve.active) == (mailbox, "prefilter", True)
    assert sieve.script.replace("\r\n", "\n") == script.replace("\r\n", "\n")
    assert [f.id for f in mc.list_sieve_filters(mailbox)] == [sieve.id]
    with pytest.raises(MailcowInvalidInput) as caught:
        mc.add_sieve_filter(mailbox, script="this is not sieve", description="broken")
    assert caught.value.msg_key == "sieve_error"
    assert mc.delete_sieve_filter(sieve.id).msg_keys == ("delete_filter",)
    assert mc.list_sieve_filters(mailbox) == []
