"""Alias domains and per-domain allow/block lists (read from Mailcow's source; see docs/mailcow.md)."""

from __future__ import annotations

import pytest

from mailherd.mailcow.client import (
    MailcowAlreadyExists,
    MailcowClient,
    MailcowInvalidInput,
    MailcowNotFound,
    MailcowValidationError,
)

from .conftest import MailcowTarget


def test_an_alias_domain_is_added_listed_switched_and_removed(
    mc: MailcowClient, target: MailcowTarget, domain: str, cleanup
) -> None:
    alias = target.unique_domain()
    result = mc.add_alias_domain(alias, domain)
    try:
        assert result.msg_keys == ("aliasd_added",)
        got = mc.get_alias_domain(alias)
        assert got is not None and (got.name, got.target, got.active) == (alias, domain, True)
        assert alias in {a.name for a in mc.list_alias_domains()}
        # An alias domain is not a domain of its own (get/domain/all does not list it).
        assert alias not in {d.name for d in mc.list_domains()}
        mc.edit_alias_domain(alias, active=False)
        assert mc.get_alias_domain(alias).active is False  # type: ignore[union-attr]
        # Its own DKIM key (dkim add takes alias domains too).
        mc.add_dkim(alias, selector="dkim", key_size=2048)
        assert mc.get_dkim(alias) is not None
    finally:
        mc.delete_alias_domain(alias)
        try:
            mc.delete_dkim(alias)
        except MailcowNotFound:
            pass
    assert mc.get_alias_domain(alias) is None
    # Removing an unknown alias domain succeeds for an admin (hasDomainAccess passes).
    assert mc.delete_alias_domain(alias) is not None


def test_alias_domain_refusals(
    mc: MailcowClient, target: MailcowTarget, domain: str, cleanup
) -> None:
    with pytest.raises(MailcowNotFound) as caught:
        mc.add_alias_domain(target.unique_domain(), target.unique_domain())
    assert caught.value.msg_key == "targetd_not_found"
    other = target.unique_domain()
    cleanup.domains.append(other)
    mc.add_domain(other, quota_mib=1024, max_mailbox_quota_mib=1024, default_mailbox_quota_mib=512)
    with pytest.raises(MailcowAlreadyExists) as caught:  # the name is a domain already
        mc.add_alias_domain(domain, other)
    assert caught.value.msg_key == "alias_domain_invalid"
    with pytest.raises(MailcowValidationError):
        mc.add_alias_domain(domain, domain)


def test_a_domains_allow_and_block_lists(mc: MailcowClient, domain: str, mailbox: str) -> None:
    mc.add_domain_policy(domain, "allow", "partner.example")
    mc.add_domain_policy(domain, "block", "*@spam.example")
    with pytest.raises(MailcowAlreadyExists) as caught:  # on either list already
        mc.add_domain_policy(domain, "block", "partner.example")
    assert caught.value.msg_key == "policy_list_from_exists"
    with pytest.raises(MailcowValidationError):
        mc.add_domain_policy(domain, "allow", "no spaces please")
    entries = mc.list_domain_policy(domain)
    assert [(e.list, e.value) for e in entries] == [
        ("allow", "partner.example"),
        ("block", "*@spam.example"),
    ]
    result = mc.delete_domain_policy(entries[0].id)
    assert result.msg_keys == ("item_deleted",)
    assert [e.value for e in mc.list_domain_policy(domain)] == ["*@spam.example"]
    mc.delete_domain_policy(entries[1].id)
    assert mc.list_domain_policy(domain) == []


def test_mailcow_itself_refuses_a_bad_sender(mc: MailcowClient, domain: str) -> None:
    """The client checks first; Mailcow's own answer for a raw bad value is policy_list_from_invalid."""
    with pytest.raises(MailcowInvalidInput) as caught:
        mc._add("domain-policy", {"domain": domain, "object_list": "bl", "object_from": "a b"},
                overrides={"policy_list_from_invalid": MailcowInvalidInput})
    assert caught.value.msg_key == "policy_list_from_invalid"
