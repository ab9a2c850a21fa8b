"""Client-side validation: normalisation and refusals (nothing is sent)."""

from __future__ import annotations

import pytest

from mailherd.mailcow.client import MailcowValidationError
from mailherd.mailcow.client import validation as v


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ACME.Test", "acme.test"),
        ("acme.test.", "acme.test"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a-b.c-d.example", "a-b.c-d.example"),
        ("  mail.example.org ", "mail.example.org"),
    ],
)
def test_domains_are_normalised(given: str, expected: str) -> None:
    assert v.normalize_domain(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "localhost",
        "-a.test",
        "a-.test",
        "a..test",
        "a_b.test",
        "1.2.3.4",
        "a b.test",
        "a,b.test",
        "a;b.test",
        "a@b.test",
        "a/b.test",
        "x" * 64 + ".test",
        ("a" * 60 + ".") * 5 + "test",
        None,
        1,
    ],
)
def test_bad_domains_are_refused(bad: object) -> None:
    with pytest.raises(MailcowValidationError):
        v.normalize_domain(bad)


def test_addresses_local_parts_and_aliases() -> None:
    assert v.normalize_address("Alice.Smith@Bücher.example") == "alice.smith@xn--bcher-kva.example"
    assert v.normalize_alias_address("@ACME.test") == "@acme.test"
    assert v.normalize_goto(["a@x.test", "A@X.test", "b@y.test"]) == ["a@x.test", "b@y.test"]
    assert v.normalize_goto("a@x.test") == ["a@x.test"]
    for bad in [
        "a b@x.test",
        "a@b@x.test",
        "@x.test",
        ".a@x.test",
        "a.@x.test",
        "x" * 65 + "@x.test",
        "a,b@x.test",
    ]:
        with pytest.raises(MailcowValidationError):
            v.normalize_address(bad)
    with pytest.raises(MailcowValidationError):
        v.normalize_goto([])


def test_numbers_frames_selectors_passwords() -> None:
    assert v.check_quota_mib(0) == 0
    for bad in (-1, True, 1.0, "1", 2**40):
        with pytest.raises(MailcowValidationError):
            v.check_quota_mib(bad)
    assert v.check_rate_limit(10, "h") == (10, "h")
    with pytest.raises(MailcowValidationError):
        v.check_rate_limit(10, "w")
    assert v.check_dkim("mail-2026_a.b", 2048) == ("mail-2026_a.b", 2048)
    for selector, size in (
        ("bad sel", 2048),
        ("a/b", 2048),
        ("", 2048),
        ("ok", 1000),
        ("ok", True),
    ):
        with pytest.raises(MailcowValidationError):
            v.check_dkim(selector, size)
    with pytest.raises(MailcowValidationError):
        v.check_password("")
    with pytest.raises(MailcowValidationError):
        v.check_password("abc\x00def")
    with pytest.raises(MailcowValidationError):
        v.check_api_key("abc_def")
