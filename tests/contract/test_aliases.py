"""Aliases: ids from msg[2], defaults, catch-all, quirks (§5.3)."""

from __future__ import annotations

import pytest

from mailherd.mailcow.client import (
    MailcowClient,
    MailcowInvalidInput,
    MailcowNotFound,
    MailcowQuotaError,
    MailcowValidationError,
)

from .conftest import Cleanup, MailcowTarget


def test_add_returns_the_id_from_the_answer(
    mc: MailcowClient, domain: str, mailbox: str, cleanup: Cleanup
) -> None:
    # when
    alias_id = mc.add_alias(f"info@{domain}", [mailbox, "bob@example.org"], private_comment="lab")
    cleanup.aliases.append(alias_id)
    # then
    got = mc.get_alias(alias_id)
    assert got is not None
    assert got.id == alias_id and got.address == f"info@{domain}"
    assert got.goto == (mailbox, "bob@example.org")
    assert got.active and not got.is_catch_all and got.private_comment == "lab"
    # the mailbox's hidden self-alias took an earlier id
    assert alias_id > 1
    assert mc.get_alias(f"info@{domain}") == got
    assert [a.id for a in mc.list_aliases(domain)] == [alias_id]


def test_mailcow_defaults_active_to_zero_so_the_client_sends_it(
    mc: MailcowClient, domain: str, cleanup: Cleanup
) -> None:
    entries = mc._t.write("add/alias", {"address": f"quiet@{domain}", "goto": "x@example.org"})
    added = next(e for e in entries if e.msg_key == "alias_added")
    alias_id = int(added.args[1])
    assert isinstance(added.args[1], str)  # the id comes back as a string
    cleanup.aliases.append(alias_id)
    assert mc.get_alias(alias_id).active is False  # type: ignore[union-attr]


def test_a_catch_all_has_no_local_part(mc: MailcowClient, domain: str, cleanup: Cleanup) -> None:
    alias_id = mc.add_alias(f"@{domain}", ["catch@example.org"])
    cleanup.aliases.append(alias_id)
    got = mc.get_alias(alias_id)
    assert got is not None and got.is_catch_all and got.address == f"@{domain}"


def test_edit_changes_targets_and_flags(mc: MailcowClient, domain: str, cleanup: Cleanup) -> None:
    alias_id = mc.add_alias(f"team@{domain}", ["a@example.org"])
    cleanup.aliases.append(alias_id)
    result = mc.edit_alias(
        alias_id, goto=["b@example.org", "c@example.org"], active=False, private_comment="edited"
    )
    assert result.msg_keys == ("alias_modified",)
    got = mc.get_alias(alias_id)
    assert got is not None
    assert got.goto == ("b@example.org", "c@example.org") and not got.active
    mc.edit_alias(f"team@{domain}", active=True)
    assert mc.get_alias(alias_id).active  # type: ignore[union-attr]


def test_editing_an_unknown_alias_is_not_found(mc: MailcowClient) -> None:
    with pytest.raises(MailcowNotFound) as caught:
        mc.edit_alias(999999, active=False)
    assert caught.value.msg_key == "alias_invalid"


def test_an_invalid_goto_on_edit_is_an_error_even_beside_success(
    mc: MailcowClient, domain: str, cleanup: Cleanup
) -> None:
    alias_id = mc.add_alias(f"keep@{domain}", ["a@example.org"])
    cleanup.aliases.append(alias_id)
    with pytest.raises(MailcowInvalidInput) as caught:
        mc._t.write("edit/alias", {"items": [str(alias_id)], "attr": {"goto": "garbage"}})
    assert caught.value.msg_key == "goto_invalid"
    assert caught.value.partial  # alias_modified came back too
    assert mc.get_alias(alias_id).goto == ("a@example.org",)  # type: ignore[union-attr]


def test_mailcow_refuses_bad_targets(mc: MailcowClient, domain: str) -> None:
    with pytest.raises(MailcowInvalidInput) as caught:
        mc._t.write("add/alias", {"address": f"x@{domain}", "goto": "not-an-email", "active": 1})
    assert (caught.value.msg_key, caught.value.msg_args) == ("goto_invalid", ("@",))
    with pytest.raises(MailcowInvalidInput) as caught:
        mc._t.write("add/alias", {"address": f"x@{domain}", "goto": "", "active": 1})
    assert caught.value.msg_key == "goto_empty"


def test_mailcow_splits_addresses_so_the_client_refuses_spaces(
    mc: MailcowClient, target: MailcowTarget, domain: str, cleanup: Cleanup
) -> None:
    # given Mailcow half-applies "bad address@domain" (§5.3)
    with pytest.raises(MailcowNotFound) as caught:
        mc._t.write(
            "add/alias", {"address": f"bad address@{domain}", "goto": "x@example.org", "active": 1}
        )
    assert caught.value.msg_key == "domain_not_found" and caught.value.msg_args == ("",)
    assert caught.value.partial
    created = mc.get_alias(f"address@{domain}")
    assert created is not None
    cleanup.aliases.append(created.id)
    # then the client never sends such a value
    if target.sim is not None:
        target.sim.clear_requests()
    for bad in (f"bad address@{domain}", f"a@{domain},b@{domain}", f"a@{domain};b@{domain}"):
        with pytest.raises(MailcowValidationError):
            mc.add_alias(bad, ["x@example.org"])
    with pytest.raises(MailcowValidationError):
        mc.add_alias(f"ok@{domain}", ["x@example.org y@example.org"])
    with pytest.raises(MailcowValidationError):
        mc.add_alias(f"ok@{domain}", [])
    if target.sim is not None:
        assert target.sim.request_count() == 0


def test_the_alias_limit_is_a_quota_error(mc: MailcowClient, domain: str, cleanup: Cleanup) -> None:
    for n in range(5):
        cleanup.aliases.append(mc.add_alias(f"a{n}@{domain}", ["x@example.org"]))
    with pytest.raises(MailcowQuotaError) as caught:
        mc.add_alias(f"a5@{domain}", ["x@example.org"])
    assert caught.value.msg_key == "max_alias_exceeded"


def test_an_alias_in_an_unknown_domain_is_not_found(
    mc: MailcowClient, target: MailcowTarget
) -> None:
    ghost = target.unique_domain("ghost")
    with pytest.raises(MailcowNotFound) as caught:
        mc.add_alias(f"x@{ghost}", ["x@example.org"])
    assert caught.value.msg_args == (ghost,)


def test_delete_by_id_or_address_and_unknown_ids(mc: MailcowClient, domain: str) -> None:
    first = mc.add_alias(f"d1@{domain}", ["x@example.org"])
    mc.add_alias(f"d2@{domain}", ["x@example.org"])
    result = mc.delete_alias(first)
    assert result is not None and result.find("alias_removed").args == (f"d1@{domain}",)  # type: ignore[union-attr]
    mc.delete_alias(f"d2@{domain}")
    assert mc.list_aliases(domain) == []
    with pytest.raises(MailcowNotFound) as caught:
        mc.delete_alias(first)
    assert caught.value.msg_key == "access_denied"
    assert mc.delete_alias(first, missing_ok=True) is None


def test_deleting_a_mailbox_drops_it_from_alias_targets(
    mc: MailcowClient, domain: str, mailbox: str
) -> None:
    shared = mc.add_alias(f"shared@{domain}", [mailbox, "x@example.org"])
    only = mc.add_alias(f"only@{domain}", [mailbox])
    mc.delete_mailbox(mailbox)
    assert mc.get_alias(shared).goto == ("x@example.org",)  # type: ignore[union-attr]
    assert mc.get_alias(only) is None
