"""Domains: units, defaults, rules, idempotent delete, DKIM side effects (§5.1)."""

from __future__ import annotations

import httpx
import pytest

from mailherd.mailcow.client import (
    MailcowAlreadyExists,
    MailcowClient,
    MailcowDomainNotEmpty,
    MailcowInvalidInput,
    MailcowNotFound,
    MailcowQuotaError,
    MailcowValidationError,
    RateLimit,
)

from .conftest import Cleanup, MailcowTarget
from .test_auth_transport import raw

MIB = 1024 * 1024


def test_quotas_go_in_as_mib_and_come_back_as_bytes(
    mc: MailcowClient, target: MailcowTarget, domain: str
) -> None:
    # when
    got = mc.get_domain(domain)
    # then
    assert got is not None
    assert got.quota_bytes == 5120 * MIB and got.quota_mib == 5120
    assert got.max_mailbox_quota_bytes == 2048 * MIB
    assert got.default_mailbox_quota_bytes == 1024 * MIB
    assert (got.max_mailboxes, got.max_aliases, got.mailbox_count) == (3, 5, 0)
    assert got.active and got.description == "contract test"
    with httpx.Client(headers={"X-API-Key": target.api_key}, trust_env=False) as http:
        obj = http.get(f"{target.url}/api/v1/get/domain/{domain}").json()
    assert obj["max_quota_for_domain"] == 5368709120
    assert obj["quota_used_in_domain"] == "0"  # a string, as recorded
    assert obj["active"] == obj["active_int"] == 1


def test_omitted_limits_take_the_template_defaults(
    mc: MailcowClient, target: MailcowTarget, cleanup: Cleanup
) -> None:
    name = target.unique_domain()
    cleanup.domains.append(name)
    mc.add_domain(name, quota_mib=10240)
    got = mc.get_domain(name)
    assert got is not None
    assert (got.max_mailboxes, got.max_aliases) == (10, 400)
    assert (got.default_mailbox_quota_mib, got.max_mailbox_quota_mib) == (3072, 10240)
    assert got.description == name and got.gal and got.active and got.rate_limit is None


def test_an_unknown_domain_is_none(mc: MailcowClient, target: MailcowTarget) -> None:
    assert mc.get_domain(target.unique_domain("nobody")) is None


@pytest.mark.sim_only
def test_an_empty_list_is_an_empty_object(mc: MailcowClient, target: MailcowTarget) -> None:
    with httpx.Client(headers={"X-API-Key": target.api_key}, trust_env=False) as http:
        assert http.get(f"{target.url}/api/v1/get/domain/all").text == "{}"
    assert mc.list_domains() == []


def test_domains_are_listed_alphabetically(
    mc: MailcowClient, target: MailcowTarget, cleanup: Cleanup
) -> None:
    names = [target.unique_domain("zz"), target.unique_domain("aa")]
    for name in names:
        cleanup.domains.append(name)
        mc.add_domain(
            name, quota_mib=2048, max_mailbox_quota_mib=1024, default_mailbox_quota_mib=512
        )
    listed = [d.name for d in mc.list_domains() if d.name in names]
    assert listed == sorted(names)


def test_a_duplicate_domain_already_exists(mc: MailcowClient, domain: str) -> None:
    with pytest.raises(MailcowAlreadyExists) as caught:
        mc.add_domain(
            domain, quota_mib=1024, max_mailbox_quota_mib=1024, default_mailbox_quota_mib=512
        )
    assert caught.value.msg_key == "domain_exists"
    assert caught.value.msg_args == (domain,)


@pytest.mark.parametrize(
    ("limits", "msg_key"),
    [
        (
            {"quota_mib": 1024, "max_mailbox_quota_mib": 2048, "default_mailbox_quota_mib": 512},
            "mailbox_quota_exceeds_domain_quota",
        ),
        (
            {"quota_mib": 4096, "max_mailbox_quota_mib": 1024, "default_mailbox_quota_mib": 2048},
            "mailbox_defquota_exceeds_mailbox_maxquota",
        ),
        # Omitted, the default quota is the template's 3072 MiB, above this maximum: that rule
        # is checked before the domain quota one (reference §10).
        (
            {"quota_mib": 1024, "max_mailbox_quota_mib": 2048},
            "mailbox_defquota_exceeds_mailbox_maxquota",
        ),
        (
            {"quota_mib": 1024, "max_mailbox_quota_mib": 2048, "default_mailbox_quota_mib": 4096},
            "mailbox_defquota_exceeds_mailbox_maxquota",
        ),
    ],
    ids=["maxquota-above-quota", "defquota-above-maxquota", "template-defquota", "both-broken"],
)
def test_domain_quota_rules_are_quota_errors(
    mc: MailcowClient, target: MailcowTarget, cleanup: Cleanup, limits: dict, msg_key: str
) -> None:
    name = target.unique_domain()
    cleanup.domains.append(name)
    with pytest.raises(MailcowQuotaError) as caught:
        mc.add_domain(name, **limits)
    assert caught.value.msg_key == msg_key
    assert mc.get_domain(name) is None


@pytest.mark.parametrize(
    "bad",
    [
        "not a domain!",
        "-bad-.test",
        "a..b.test",
        "",
        "localhost",
        "1.2.3.4",
        "foo_bar.test",
        "x" * 64 + ".test",
        "alice@acme.test",
        "acme.test,evil.test",
        "acme.test;evil.test",
        "acme.test\nevil.test",
        None,
        42,
    ],
)
def test_invalid_domain_names_never_reach_mailcow(
    mc: MailcowClient, target: MailcowTarget, bad: object
) -> None:
    with pytest.raises(MailcowValidationError) as caught:
        mc.add_domain(bad, quota_mib=1024)  # type: ignore[arg-type]
    assert caught.value.field == "domain"
    if target.sim is not None:
        assert target.sim.request_count() == 0


def test_mailcow_itself_refuses_a_malformed_name(mc: MailcowClient) -> None:
    # Bypass the client's validation to pin what Mailcow answers (§6).
    with pytest.raises(MailcowInvalidInput) as caught:
        mc._t.write("add/domain", {"domain": "-bad-.test"})
    assert caught.value.msg_key == "domain_invalid"
    assert caught.value.msg_args == ()  # a plain string msg, not a list


def test_idn_names_are_sent_as_punycode(
    mc: MailcowClient, target: MailcowTarget, cleanup: Cleanup
) -> None:
    unicode_name = f"bücher-{target.run_id}.test"
    punycode = unicode_name.encode("idna").decode()
    cleanup.domains.append(punycode)
    # when
    mc.add_domain(
        unicode_name.upper(),
        quota_mib=1024,
        max_mailbox_quota_mib=1024,
        default_mailbox_quota_mib=512,
    )
    # then
    got = mc.get_domain(unicode_name)
    assert got is not None
    assert got.name == punycode and got.name.startswith("xn--")
    assert got.unicode_name == unicode_name
    if target.sim is not None:
        sent = [r["body"] for r in target.sim.request_log() if r["action"] == "add"]
        assert sent[0]["domain"] == punycode


def test_edit_changes_active_and_limits(mc: MailcowClient, domain: str) -> None:
    mc.edit_domain(domain, active=False, quota_mib=6144, max_mailboxes=5, description="edited")
    got = mc.get_domain(domain)
    assert got is not None
    assert not got.active and got.quota_mib == 6144 and got.max_mailboxes == 5
    assert got.description == "edited"
    mc.edit_domain(domain, active=True)
    assert mc.get_domain(domain).active  # type: ignore[union-attr]


def test_edit_refuses_limits_below_current_use(
    mc: MailcowClient, domain: str, mailbox: str
) -> None:
    with pytest.raises(MailcowQuotaError) as caught:
        mc.edit_domain(domain, max_mailboxes=0)
    assert caught.value.msg_key == "mailboxes_in_use"
    with pytest.raises(MailcowQuotaError) as caught:
        mc.edit_domain(domain, max_mailbox_quota_mib=100, default_mailbox_quota_mib=100)
    assert caught.value.msg_key == "max_quota_in_use"
    assert caught.value.msg_args == ("500",)


def test_editing_an_unknown_domain_is_not_found(mc: MailcowClient, target: MailcowTarget) -> None:
    with pytest.raises(MailcowNotFound) as caught:
        mc.edit_domain(target.unique_domain("ghost"), active=False)
    assert caught.value.msg_key == "domain_invalid"


def test_forgetting_the_attr_wrapper_silently_does_nothing(mc: MailcowClient, domain: str) -> None:
    entries = mc._t.write("edit/domain", {"items": [domain], "active": "0"})
    assert entries[-1].msg_key == "domain_modified"
    assert mc.get_domain(domain).active  # type: ignore[union-attr]


def test_delete_is_idempotent_and_keeps_the_dkim_key(
    mc: MailcowClient, target: MailcowTarget, cleanup: Cleanup
) -> None:
    name = target.unique_domain()
    cleanup.domains.append(name)
    added = mc.add_domain(
        name, quota_mib=1024, max_mailbox_quota_mib=1024, default_mailbox_quota_mib=512
    )
    assert added.msg_keys[-2:] == ("dkim_added", "domain_added")
    key = mc.get_dkim(name)
    assert key is not None and key.selector == "dkim" and key.length == 2048
    assert key.txt.startswith("v=DKIM1;k=rsa;") and key.public_key in key.txt
    # when deleted twice
    first = mc.delete_domain(name)
    second = mc.delete_domain(name)
    # then both succeed, with Dovecot's warning beside the success
    for result in (first, second):
        assert result.msg_keys[-1] == "domain_removed"
        assert result.warnings
    assert mc.get_domain(name) is None
    # and the DKIM key survives the domain and is reused on re-add
    assert mc.get_dkim(name) == key
    again = mc.add_domain(
        name, quota_mib=1024, max_mailbox_quota_mib=1024, default_mailbox_quota_mib=512
    )
    assert "domain_add_dkim_available" in again.msg_keys
    mc.delete_domain(name)
    mc.delete_dkim(name)
    assert mc.get_dkim(name) is None


def test_a_domain_with_mailboxes_is_not_deleted(
    mc: MailcowClient, domain: str, mailbox: str
) -> None:
    with pytest.raises(MailcowDomainNotEmpty) as caught:
        mc.delete_domain(domain)
    assert caught.value.msg_args == (domain,)


def test_deleting_a_domain_deletes_its_aliases(mc: MailcowClient, domain: str) -> None:
    alias_id = mc.add_alias(f"info@{domain}", ["someone@example.org"])
    mc.delete_domain(domain)
    assert mc.get_alias(alias_id) is None


def test_a_rate_limit_given_on_add_is_saved(
    mc: MailcowClient, target: MailcowTarget, cleanup: Cleanup
) -> None:
    name = target.unique_domain()
    cleanup.domains.append(name)
    result = mc.add_domain(
        name,
        quota_mib=1024,
        max_mailbox_quota_mib=1024,
        default_mailbox_quota_mib=512,
        rate_limit=RateLimit(10, "s"),
        dkim_selector="mail2026",
        dkim_key_size=1024,
    )
    assert "rl_saved" in result.msg_keys
    assert mc.get_domain(name).rate_limit == RateLimit(10, "s")  # type: ignore[union-attr]
    key = mc.get_dkim(name)
    assert key is not None and key.selector == "mail2026" and key.length == 1024
    assert key.dns_name == f"mail2026._domainkey.{name}"


@pytest.mark.parametrize(
    "limits",
    [
        {"quota_mib": -1},
        {"quota_mib": 0},
        {"quota_mib": 1.5},
        {"quota_mib": True},
        {"quota_mib": "1024"},
        {"quota_mib": 2**40},
        {"quota_mib": 1024, "max_mailboxes": -3},
        {"quota_mib": 1024, "dkim_selector": "bad selector"},
        {"quota_mib": 1024, "dkim_key_size": 1000},
        {"quota_mib": 1024, "rate_limit": RateLimit(10, "w")},
    ],
)
def test_out_of_range_values_never_reach_mailcow(
    mc: MailcowClient, target: MailcowTarget, limits: dict
) -> None:
    with pytest.raises(MailcowValidationError):
        mc.add_domain(target.unique_domain(), **limits)
    if target.sim is not None:
        assert target.sim.request_count() == 0


def test_omitted_limits_come_from_the_default_template(
    mc: MailcowClient, target: MailcowTarget, cleanup: Cleanup
) -> None:
    # given the server's Default domain template
    template = mc.get_domain_template()
    assert template is not None and template.name == "Default"
    assert template.default_mailbox_quota_mib <= template.max_mailbox_quota_mib
    # when a domain is added with its quota alone
    name = target.unique_domain()
    cleanup.domains.append(name)
    mc.add_domain(name, quota_mib=max(template.quota_mib, template.max_mailbox_quota_mib))
    # then every omitted limit is the template's
    domain = mc.get_domain(name)
    assert domain is not None
    assert domain.max_mailboxes == template.max_mailboxes
    assert domain.max_aliases == template.max_aliases
    assert domain.default_mailbox_quota_bytes == template.default_mailbox_quota_mib * MIB
    assert domain.max_mailbox_quota_bytes == template.max_mailbox_quota_mib * MIB


def test_tags_appear_only_when_there_are_tags(
    mc: MailcowClient, target: MailcowTarget, cleanup: Cleanup
) -> None:
    plain, tagged = target.unique_domain(), target.unique_domain()
    cleanup.domains += [plain, tagged]
    for name, tags in ((plain, ()), (tagged, ("vip",))):
        mc.add_domain(
            name,
            quota_mib=1024,
            max_mailbox_quota_mib=512,
            default_mailbox_quota_mib=256,
            tags=tags,
        )
    with raw(target, headers={"X-API-Key": target.api_key}) as http:
        plain_raw = http.get(f"/get/domain/{plain}").json()
        tagged_raw = http.get(f"/get/domain/{tagged}").json()
    assert "tags" not in plain_raw
    assert tagged_raw["tags"] == ["vip"]
    assert mc.get_domain(plain).tags == ()
    assert mc.get_domain(tagged).tags == ("vip",)
