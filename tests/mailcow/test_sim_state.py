"""The simulator's model keeps Mailcow's invariants (no HTTP involved)."""

from __future__ import annotations

import threading

from mailherd.mailcow.sim.php import intval, is_valid_domain_name, is_valid_email, split_list
from mailherd.mailcow.sim.state import SimState

MIB = 1024 * 1024
PW = {"password": "secret123", "password2": "secret123"}


def msgs(result: tuple[list[dict], bool]) -> list:
    return [e["msg"] for e in result[0]]


def make(state: SimState, **limits: int) -> None:
    attr = {
        "domain": "acme.test",
        "quota": 1000,
        "maxquota": 600,
        "defquota": 100,
        "mailboxes": 2,
        **limits,
    }
    assert msgs(state.add_domain(attr))[-1] == ["domain_added", "acme.test"]


def test_php_helpers_match_php() -> None:
    assert (intval("12abc"), intval(""), intval(None), intval("x"), intval(3.9)) == (12, 0, 0, 0, 3)
    assert is_valid_domain_name("localhost") and not is_valid_domain_name("-bad-.test")
    assert not is_valid_email("@acme.test") and is_valid_email("a.b+c@acme.test")
    assert split_list("a b,c;d\ne") == ["a", "b", "c", "d", "e"]


def test_domain_limits_hold() -> None:
    state = SimState()
    make(state)
    assert (
        msgs(state.add_mailbox({"local_part": "a", "domain": "acme.test", "quota": 600, **PW}))[-1][
            0
        ]
        == "mailbox_added"
    )
    assert msgs(
        state.add_mailbox({"local_part": "b", "domain": "acme.test", "quota": 500, **PW})
    ) == [["mailbox_quota_left_exceeded", 400]]
    assert (
        msgs(state.add_mailbox({"local_part": "b", "domain": "acme.test", "quota": 400, **PW}))[-1][
            0
        ]
        == "mailbox_added"
    )
    assert msgs(
        state.add_mailbox({"local_part": "c", "domain": "acme.test", "quota": 0, **PW})
    ) == [["max_mailbox_exceeded", 2, 2]]
    assert state.domain_usage("acme.test") == (2, 1000 * MIB)
    assert msgs(state.edit_domain({"domain": ["acme.test"], "quota": 900})) == [
        ["domain_quota_m_in_use", 1000]
    ]


def test_domain_usage_follows_every_change_of_its_mailboxes() -> None:
    state = SimState()
    make(state, mailboxes=10)
    for local, quota in (("a", 100), ("b", 200), ("c", 300)):
        state.add_mailbox({"local_part": local, "domain": "acme.test", "quota": quota, **PW})
    assert state.domain_usage("acme.test") == (3, 600 * MIB)
    state.edit_mailbox({"username": ["b@acme.test"], "quota": 50})
    state.delete_mailbox({"username": ["a@acme.test"]})
    assert state.domain_usage("acme.test") == (2, 350 * MIB)
    # the quota freed is usable again at once, and the figures match a fresh count
    assert msgs(state.add_mailbox({"local_part": "d", "domain": "acme.test", "quota": 600, **PW}))[-1][0] == (
        "mailbox_added"
    )
    boxes = state.by_domain["acme.test"].values()
    assert state.domain_usage("acme.test") == (len(boxes), sum(m.quota for m in boxes)) == (3, 950 * MIB)


def test_addresses_are_either_mailbox_or_alias() -> None:
    state = SimState()
    make(state)
    state.add_mailbox({"local_part": "a", "domain": "acme.test", "quota": 10, **PW})
    assert msgs(state.add_alias({"address": "a@acme.test", "goto": "x@y.test"})) == [
        ["is_alias_or_mailbox", "a@acme.test"]
    ]
    state.add_alias({"address": "b@acme.test", "goto": "x@y.test"})
    assert msgs(
        state.add_mailbox({"local_part": "b", "domain": "acme.test", "quota": 10, **PW})
    ) == [["is_alias", "b@acme.test"]]
    # the self-alias row exists but is hidden
    assert state.find_alias("a@acme.test") is None and "a@acme.test" in state.alias_by_address
    state.delete_mailbox({"username": ["a@acme.test"]})
    assert "a@acme.test" not in state.alias_by_address


def test_dkim_outlives_its_domain_and_one_key_per_domain() -> None:
    state = SimState()
    make(state, key_size=1024)
    assert "acme.test" in state.dkim
    assert msgs(
        state.add_dkim({"domains": "acme.test", "dkim_selector": "x", "key_size": 1024})
    ) == [["dkim_domain_or_sel_invalid", "acme.test"]]
    state.delete_domain({"domain": ["acme.test"]})
    assert "acme.test" in state.dkim
    assert "domain_add_dkim_available" in msgs(state.add_domain({"domain": "acme.test"}))


def test_the_alias_splitting_quirk_half_applies() -> None:
    state = SimState()
    make(state)
    result = msgs(
        state.add_alias({"address": "bad address@acme.test", "goto": "x@y.test", "active": 1})
    )
    assert result[0] == ["domain_not_found", ""]
    assert result[1][:2] == ["alias_added", "address@acme.test"]


def test_concurrent_adds_never_exceed_the_mailbox_limit() -> None:
    state = SimState()
    make(state, mailboxes=5, maxquota=10, defquota=1, quota=1000)

    def add(n: int) -> None:
        state.add_mailbox({"local_part": f"u{n}", "domain": "acme.test", "quota": 1, **PW})

    threads = [threading.Thread(target=add, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state.domain_usage("acme.test")[0] == 5
