"""Mailboxes: quota units, limits, active states, passwords, self-alias (§5.2)."""

from __future__ import annotations

import pytest

from mailherd.mailcow.client import (
    MailboxActive,
    MailcowAlreadyExists,
    MailcowClient,
    MailcowInvalidInput,
    MailcowNotFound,
    MailcowQuotaError,
    MailcowValidationError,
    Protocol,
)

from .conftest import Cleanup, MailcowTarget

MIB = 1024 * 1024
PASSWORD = "Secret-pass-1"


def test_a_new_mailbox_reports_its_quota_in_bytes(
    mc: MailcowClient, domain: str, cleanup: Cleanup
) -> None:
    address = f"bob@{domain}"
    cleanup.mailboxes.append(address)
    # when
    result = mc.add_mailbox(address, password=PASSWORD, quota_mib=500, name="Bob")
    # then
    assert result.msg_keys == ("rl_saved", "mailbox_added")
    got = mc.get_mailbox(address)
    assert got is not None
    assert got.quota_bytes == 524288000 and got.quota_mib == 500
    assert (got.local_part, got.domain, got.name) == ("bob", domain, "Bob")
    assert got.active is MailboxActive.ACTIVE
    assert all(got.access.values())
    assert (got.quota_used_bytes, got.messages) == (0, 0)
    assert mc.get_domain(domain).allocated_quota_bytes == 500 * MIB  # type: ignore[union-attr]


def test_the_client_always_sends_quota_because_omitting_it_means_unlimited(
    mc: MailcowClient, target: MailcowTarget, domain: str, cleanup: Cleanup
) -> None:
    # given Mailcow ignores the domain default when quota is omitted
    address = f"noquota@{domain}"
    cleanup.mailboxes.append(address)
    mc._t.write(
        "add/mailbox",
        {"local_part": "noquota", "domain": domain, "password": PASSWORD, "password2": PASSWORD},
    )
    got = mc.get_mailbox(address)
    assert got is not None and got.quota_bytes is None and got.unlimited
    # then the client sends it every time
    if target.sim is not None:
        target.sim.clear_requests()
        mc.add_mailbox(f"withquota@{domain}", password=PASSWORD, quota_mib=100)
        cleanup.mailboxes.append(f"withquota@{domain}")
        assert target.sim.request_log()[0]["body"]["quota"] == 100


def test_quota_zero_is_unlimited_even_in_a_limited_domain(
    mc: MailcowClient, domain: str, cleanup: Cleanup
) -> None:
    address = f"big@{domain}"
    cleanup.mailboxes.append(address)
    mc.add_mailbox(address, password=PASSWORD, quota_mib=0)
    assert mc.get_mailbox(address).quota_bytes is None  # type: ignore[union-attr]


def test_unknown_mailboxes_and_empty_lists(
    mc: MailcowClient, target: MailcowTarget, domain: str
) -> None:
    assert mc.get_mailbox(f"nobody@{domain}") is None
    assert mc.list_mailboxes(domain) == []


def test_mailboxes_are_listed_per_domain(mc: MailcowClient, domain: str, mailbox: str) -> None:
    assert [m.address for m in mc.list_mailboxes(domain)] == [mailbox]
    assert mailbox in {m.address for m in mc.list_mailboxes()}


def test_a_duplicate_mailbox_already_exists(mc: MailcowClient, mailbox: str) -> None:
    with pytest.raises(MailcowAlreadyExists) as caught:
        mc.add_mailbox(mailbox, password=PASSWORD, quota_mib=100)
    assert caught.value.msg_key == "object_exists"
    assert caught.value.msg_args == (mailbox,)


def test_domain_limits_are_quota_errors_with_their_numbers(
    mc: MailcowClient, domain: str, cleanup: Cleanup
) -> None:
    # given a domain of 5120 MiB, 2048 MiB per mailbox, 3 mailboxes
    with pytest.raises(MailcowQuotaError) as caught:
        mc.add_mailbox(f"huge@{domain}", password=PASSWORD, quota_mib=3000)
    assert (caught.value.msg_key, caught.value.msg_args) == ("mailbox_quota_exceeded", (2048,))
    for local in ("m1", "m2"):
        cleanup.mailboxes.append(f"{local}@{domain}")
        mc.add_mailbox(f"{local}@{domain}", password=PASSWORD, quota_mib=2048)
    with pytest.raises(MailcowQuotaError) as caught:
        mc.add_mailbox(f"m3@{domain}", password=PASSWORD, quota_mib=2000)
    assert (caught.value.msg_key, caught.value.msg_args) == ("mailbox_quota_left_exceeded", (1024,))
    cleanup.mailboxes.append(f"m3@{domain}")
    mc.add_mailbox(f"m3@{domain}", password=PASSWORD, quota_mib=1000)
    with pytest.raises(MailcowQuotaError) as caught:
        mc.add_mailbox(f"m4@{domain}", password=PASSWORD, quota_mib=1)
    assert (caught.value.msg_key, caught.value.msg_args) == ("max_mailbox_exceeded", (3, 3))


def test_a_mailbox_in_an_unknown_domain_is_not_found(
    mc: MailcowClient, target: MailcowTarget
) -> None:
    with pytest.raises(MailcowNotFound) as caught:
        mc.add_mailbox(f"x@{target.unique_domain('ghost')}", password=PASSWORD, quota_mib=10)
    assert caught.value.msg_key == "access_denied"


@pytest.mark.parametrize(
    "address",
    [
        "bad local@acme.test",
        "@acme.test",
        "a,b@acme.test",
        "x" * 65 + "@acme.test",
        ".a@acme.test",
        "a..b@acme.test",
        "alice",
        "alice@@acme.test",
        "alice@bad_domain.test",
        "alice@acme.test;bob@acme.test",
    ],
)
def test_invalid_addresses_never_reach_mailcow(
    mc: MailcowClient, target: MailcowTarget, address: str
) -> None:
    with pytest.raises(MailcowValidationError):
        mc.add_mailbox(address, password=PASSWORD, quota_mib=10)
    if target.sim is not None:
        assert target.sim.request_count() == 0


@pytest.mark.parametrize("quota", [-1, 1.0, "10", None, 2**40])
def test_out_of_range_quotas_never_reach_mailcow(
    mc: MailcowClient, target: MailcowTarget, domain: str, quota: object
) -> None:
    if target.sim is not None:
        target.sim.clear_requests()
    with pytest.raises(MailcowValidationError):
        mc.add_mailbox(f"q@{domain}", password=PASSWORD, quota_mib=quota)  # type: ignore[arg-type]
    if target.sim is not None:
        assert target.sim.request_count() == 0


def test_mailcow_refuses_bad_local_parts_and_passwords(mc: MailcowClient, domain: str) -> None:
    base = {"domain": domain, "quota": 10}
    cases = [
        (
            {"local_part": "bad local", "password": PASSWORD, "password2": PASSWORD},
            "mailbox_invalid",
        ),
        ({"local_part": "", "password": PASSWORD, "password2": PASSWORD}, "mailbox_invalid"),
        (
            {"local_part": "p1", "password": PASSWORD, "password2": PASSWORD + "x"},
            "password_mismatch",
        ),
        ({"local_part": "p2", "password": PASSWORD}, "password_complexity"),
        ({"local_part": "p3", "password": "abc", "password2": "abc"}, "password_complexity"),
    ]
    for attr, msg_key in cases:
        with pytest.raises(MailcowInvalidInput) as caught:
            mc._t.write("add/mailbox", {**base, **attr})
        assert caught.value.msg_key == msg_key


def test_active_takes_three_states(mc: MailcowClient, mailbox: str) -> None:
    for state in (MailboxActive.NO_LOGIN, MailboxActive.DISABLED, MailboxActive.ACTIVE):
        mc.edit_mailbox(mailbox, active=state)
        got = mc.get_mailbox(mailbox)
        assert got is not None and got.active is state
    assert got.can_login


def test_edit_changes_quota_name_password_and_protocols(mc: MailcowClient, mailbox: str) -> None:
    result = mc.edit_mailbox(
        mailbox,
        quota_mib=1024,
        name="Alice Renamed",
        password="Another-pass-2",
        access={Protocol.IMAP: False, "pop3": False},
    )
    assert result.msg_keys == ("mailbox_modified",)
    got = mc.get_mailbox(mailbox)
    assert got is not None
    assert got.quota_mib == 1024 and got.name == "Alice Renamed"
    assert (
        not got.access[Protocol.IMAP]
        and not got.access[Protocol.POP3]
        and got.access[Protocol.SMTP]
    )


def test_growing_past_what_is_left_names_the_maximum(mc: MailcowClient, mailbox: str) -> None:
    with pytest.raises(MailcowQuotaError) as caught:
        mc.edit_mailbox(mailbox, quota_mib=4096)
    assert caught.value.msg_key == "mailbox_quota_left_exceeded"
    assert caught.value.msg_args == (2048,)  # capped at the domain's maxquota


def test_editing_or_deleting_an_unknown_mailbox_is_not_found(
    mc: MailcowClient, domain: str
) -> None:
    with pytest.raises(MailcowNotFound):
        mc.edit_mailbox(f"ghost@{domain}", name="x")
    with pytest.raises(MailcowNotFound):
        mc.delete_mailbox(f"ghost@{domain}")
    assert mc.delete_mailbox(f"ghost@{domain}", missing_ok=True) is None


def test_delete_reports_the_dovecot_warning_beside_success(mc: MailcowClient, mailbox: str) -> None:
    result = mc.delete_mailbox(mailbox)
    assert result is not None
    assert result.msg_keys[-1] == "mailbox_removed"
    assert [w.msg_key for w in result.warnings] == ["Could not move maildir to garbage collector: "]
    assert mc.get_mailbox(mailbox) is None


def test_a_delete_with_an_object_body_is_misread(mc: MailcowClient, mailbox: str) -> None:
    with pytest.raises(MailcowNotFound):
        mc._t.write("delete/mailbox", {"items": [mailbox]})
    assert mc.get_mailbox(mailbox) is not None


def test_the_self_alias_is_hidden_but_blocks_the_address(
    mc: MailcowClient, domain: str, mailbox: str, cleanup: Cleanup
) -> None:
    assert mc.list_aliases(domain) == []
    assert mc.get_alias(mailbox) is None
    with pytest.raises(MailcowAlreadyExists) as caught:
        mc.add_alias(mailbox, ["someone@example.org"])
    assert caught.value.msg_key == "is_alias_or_mailbox"
    alias_id = mc.add_alias(f"sales@{domain}", [mailbox])
    cleanup.aliases.append(alias_id)
    with pytest.raises(MailcowAlreadyExists) as caught:
        mc.add_mailbox(f"sales@{domain}", password=PASSWORD, quota_mib=10)
    assert caught.value.msg_key == "is_alias"


@pytest.mark.sim_only
def test_usage_numbers_come_from_dovecot(
    mc: MailcowClient, target: MailcowTarget, domain: str, mailbox: str
) -> None:
    assert target.sim is not None
    target.sim.set_usage(mailbox, quota_used=20066, messages=1)
    got = mc.get_mailbox(mailbox)
    assert got is not None and (got.quota_used_bytes, got.messages) == (20066, 1)
    dom = mc.get_domain(domain)
    assert dom is not None and (dom.bytes_used, dom.messages) == (20066, 1)
