"""Record generation and bad input: pure functions, no database."""

import pytest

from mailherd.core.errors import InvalidAddress
from mailherd.dns.records import (
    DmarcPolicy,
    Record,
    RecordSpec,
    ServerSpec,
    build_records,
    normalize_name,
    txt_split,
    zone_file,
)

DKIM = "v=DKIM1;k=rsa;t=s;s=email;p=" + "A" * 392  # a 2048-bit key's length


def spec(**overrides) -> RecordSpec:
    values = dict(
        domain="acme.test",
        verification_name="_mailherd-verify.acme.test",
        verification_value="mailherd-verify=tok",
        server=ServerSpec(
            "mail.provider.test",
            imap_host="imap.provider.test",
            smtp_host="smtp.provider.test",
            pop3_host="pop.provider.test",
        ),
        dkim_txt=DKIM,
        dmarc=DmarcPolicy("none", "dmarc@acme.test"),
        setup_host="setup.mailherd.test",
    )
    values.update(overrides)
    return RecordSpec(**values)


def test_it_generates_the_full_record_set():
    records = {r.key: r for r in build_records(spec())}

    assert (
        records["mx"].type,
        records["mx"].name,
        records["mx"].value,
        records["mx"].priority,
    ) == ("MX", "acme.test", "mail.provider.test", 10)
    assert records["spf"].value == "v=spf1 mx a:mail.provider.test -all"
    assert (
        records["dkim"].name == "dkim._domainkey.acme.test"
        and records["dkim"].relative == "dkim._domainkey"
    )
    assert records["dmarc"].value == "v=DMARC1; p=none; rua=mailto:dmarc@acme.test"
    assert records["autoconfig"].value == records["autodiscover"].value == "setup.mailherd.test"
    assert records["srv_imaps"].content == "0 1 993 imap.provider.test"
    assert records["srv_imap"].content == "0 1 143 imap.provider.test"
    assert records["srv_pop3s"].content == "0 1 995 pop.provider.test"
    assert records["srv_submission"].name == "_submission._tcp.acme.test"
    assert records["srv_autodiscover"].content == "0 1 443 setup.mailherd.test"
    assert records["mx"].relative == "@"
    assert "mta_sts" not in records and "tls_rpt" not in records


def test_it_adds_the_smarthost_include_and_the_optional_records():
    records = {
        r.key: r
        for r in build_records(
            spec(
                server=ServerSpec("mail.provider.test", spf_includes=("_spf.relay.test",)),
                extra_spf_includes=("_spf.news.test",),
                mta_sts_mode="enforce",
                mta_sts_id="20260101",
                tls_rpt_rua="tls@acme.test",
                dmarc=DmarcPolicy("quarantine", "dmarc@acme.test", 25),
            )
        )
    }

    assert (
        records["spf"].value
        == "v=spf1 mx a:mail.provider.test include:_spf.relay.test include:_spf.news.test -all"
    )
    assert records["mta_sts"].value == "v=STSv1; id=20260101"
    assert records["mta_sts_host"].value == "setup.mailherd.test"
    assert records["tls_rpt"].value == "v=TLSRPTv1; rua=mailto:tls@acme.test"
    assert records["dmarc"].value == "v=DMARC1; p=quarantine; pct=25; rua=mailto:dmarc@acme.test"


def test_it_has_only_the_ownership_record_before_a_server_is_known():
    assert [r.key for r in build_records(spec(server=None))] == ["verify"]


def test_it_splits_long_txt_values_into_255_character_strings_in_the_zone_file():
    records = build_records(spec())
    text = zone_file("acme.test", records)

    dkim_line = next(line for line in text.splitlines() if "_domainkey" in line)
    strings = dkim_line.split("\t")[-1]
    assert strings.count('"') == 4  # two quoted strings
    first, second = strings.split('" "')
    assert len(first.lstrip('"')) == 255 and len(first.lstrip('"') + second.rstrip('"')) == len(
        DKIM
    )
    assert "acme.test.\t3600\tIN\tMX\t10 mail.provider.test." in text
    assert "_imaps._tcp.acme.test.\t3600\tIN\tSRV\t0 1 993 imap.provider.test." in text
    assert "autoconfig.acme.test.\t3600\tIN\tCNAME\tsetup.mailherd.test." in text


def test_it_escapes_quotes_and_backslashes_in_zone_file_values():
    line = Record("TXT", "x.acme.test", 'a "quoted" \\ value', zone="acme.test").zone_line
    assert line.endswith('"a \\"quoted\\" \\\\ value"')


def test_it_never_splits_inside_a_multibyte_character():
    chunks = txt_split("é" * 200)  # 400 octets
    assert all(len(c.encode()) <= 255 for c in chunks) and "".join(chunks) == "é" * 200


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Acme.Test.", "acme.test"),
        ("  acme.test  ", "acme.test"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.example.", "xn--bcher-kva.example"),
    ],
)
def test_it_normalizes_names(raw, clean):
    assert normalize_name(raw) == clean


@pytest.mark.parametrize(
    "raw", ["", ".", "a..b", "x" * 64 + ".test", ("a" * 60 + ".") * 5 + "test"]
)
def test_it_refuses_names_dns_cannot_hold(raw):
    with pytest.raises(InvalidAddress):
        normalize_name(raw)


def test_relative_host_of_a_name_outside_the_zone_is_absolute():
    assert (
        Record("PTR", "mail.provider.test", "x", zone="acme.test").relative == "mail.provider.test."
    )
