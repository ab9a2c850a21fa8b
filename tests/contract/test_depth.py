"""Client calls added for issue 14 (read from Mailcow's source; see docs/mailcow.md)."""

from __future__ import annotations

import pytest

from mailherd.mailcow.client import MailcowClient, MailcowNotFound, RateLimit

from .conftest import MailcowTarget


def test_a_relayhost_is_edited_in_place(mc: MailcowClient, domain: str) -> None:
    host = mc.add_relayhost("[smtp.one.example]:587", username="u1", password="p1")
    try:
        result = mc.edit_relayhost(
            host.id, hostname="[smtp.two.example]:2525", username="u2", password="p2"
        )
        assert result.msg_keys == ("object_modified",)
        again = mc.get_relayhost(host.id)
        assert again is not None and (again.hostname, again.username) == (
            "[smtp.two.example]:2525",
            "u2",
        )
        with pytest.raises(MailcowNotFound):
            mc.edit_relayhost(999_999, username="x")
    finally:
        mc.delete_relayhost(host.id)


def test_add_domain_ignores_relayhost_and_edit_sets_it(
    mc: MailcowClient, target: MailcowTarget, cleanup
) -> None:
    host = mc.add_relayhost("[smtp.relay.example]:587", username="u", password="p")
    name = target.unique_domain()
    cleanup.domains.append(name)
    try:
        mc.add_domain(
            name,
            quota_mib=1024,
            max_mailbox_quota_mib=1024,
            default_mailbox_quota_mib=512,
            relayhost_id=host.id,
        )
        assert mc.get_domain(name).relayhost_id is None  # type: ignore[union-attr]
        mc.edit_domain(name, relayhost_id=host.id)
        assert mc.get_domain(name).relayhost_id == host.id  # type: ignore[union-attr]
        mc.edit_domain(name, relayhost_id=0)
        assert mc.get_domain(name).relayhost_id is None  # type: ignore[union-attr]
    finally:
        mc.delete_relayhost(host.id)


def test_add_domain_takes_a_rate_limit(mc: MailcowClient, target: MailcowTarget, cleanup) -> None:
    name = target.unique_domain()
    cleanup.domains.append(name)
    mc.add_domain(
        name,
        quota_mib=1024,
        max_mailbox_quota_mib=1024,
        default_mailbox_quota_mib=512,
        rate_limit=RateLimit(100, "h"),
    )
    assert mc.get_domain_rate_limit(name) == RateLimit(100, "h")
    assert mc.get_domain(name).rate_limit == RateLimit(100, "h")  # type: ignore[union-attr]


def test_add_mailbox_takes_a_rate_limit(mc: MailcowClient, domain: str, cleanup) -> None:
    address = f"limited@{domain}"
    cleanup.mailboxes.append(address)
    mc.add_mailbox(address, password="Secret-pass-1", quota_mib=100, rate_limit=RateLimit(20, "m"))
    assert mc.get_mailbox_rate_limit(address) == RateLimit(20, "m")
    remote = mc.get_mailbox(address)
    assert remote.rate_limit == RateLimit(20, "m") and remote.rate_limit_scope == "mailbox"  # type: ignore[union-attr]


def test_quarantine_notices_and_spam_score(mc: MailcowClient, mailbox: str) -> None:
    assert mc.set_quarantine_notification(mailbox, "daily").msg_keys == ("mailbox_modified",)
    mc.set_quarantine_category(mailbox, "all")
    remote = mc.get_mailbox(mailbox)
    assert (remote.quarantine_notification, remote.quarantine_category) == ("daily", "all")  # type: ignore[union-attr]
    assert mc.get_spam_score(mailbox) is None or isinstance(mc.get_spam_score(mailbox), tuple)
    mc.set_spam_score(mailbox, 7.5, 14)
    assert mc.get_spam_score(mailbox) == (7.5, 14.0)
    mc.set_spam_score(mailbox, None, None)
    assert mc.get_spam_score(mailbox) in (None, (8.0, 15.0))  # back to the server's (rspamd's) defaults


def test_sync_jobs_are_stopped_and_read_with_their_log(mc: MailcowClient, mailbox: str) -> None:
    job = mc.add_sync_job(mailbox, host="imap.old.example", user="old-user", password="old-pass")
    try:
        assert mc.edit_sync_job(job.id, active=False).msg_keys == ("mailbox_modified",)
        [again] = [j for j in mc.list_sync_jobs(mailbox, with_log=True) if j.id == job.id]
        assert again.active is False and again.success is None and isinstance(again.log, str)
    finally:
        mc.delete_sync_job(job.id)


def test_one_quarantined_message_in_full(mc: MailcowClient, target: MailcowTarget, mailbox: str) -> None:
    assert mc.get_quarantine_item(999_999) is None
    if target.sim is None:
        return  # a real server's quarantine is filled by rspamd
    item = target.sim.add_quarantine_item(rcpt=mailbox, subject="Hello", body="Body text")
    full = mc.get_quarantine_item(item)
    assert full is not None and full.item.subject == "Hello" and "Body text" in full.raw
    result = mc.release_quarantine(item, learn_ham=True)
    assert result.msg_keys == ("item_released", "learned_ham")
