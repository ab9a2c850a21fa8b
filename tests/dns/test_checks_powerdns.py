"""The record checks against a real authoritative server: correct, missing, wrong and partly-right sets."""

import pytest

from mailherd.dns.services import domain_check

pytestmark = pytest.mark.django_db

from tests.dns.conftest import expected, publish, set_txt_zone_form  # noqa: E402


def statuses(results) -> dict[str, str]:
    return {r.record.key: r.status for r in results}


def by_key(results, key):
    return next(r for r in results if r.record.key == key)


def test_it_reports_every_record_ok_when_the_zone_matches(make_domain, server_dns, settings):
    # given a domain whose zone holds exactly the records shown (a production-size DKIM key)
    settings.MAILHERD_DKIM_KEY_BITS = 2048
    domain = make_domain("correct.test")
    publish(server_dns, expected(domain), zone="correct.test")

    # when
    results = domain_check(domain=domain)

    # then every record, and the server's reverse DNS, is ok
    assert set(statuses(results).values()) == {"ok"}, [
        (r.record.key, r.status, r.detail) for r in results
    ]
    keys = set(statuses(results))
    assert {
        "verify",
        "mx",
        "spf",
        "dkim",
        "dmarc",
        "autoconfig",
        "autodiscover",
        "srv_imaps",
        "srv_submission",
        "ptr",
    } <= keys
    # the 2048-bit DKIM key is longer than one TXT string: it was published split and still matches
    assert len(by_key(results, "dkim").record.value) > 255
    assert "lookups" in by_key(results, "spf").detail


def test_it_reports_missing_records_and_says_so(make_domain, server_dns):
    domain = make_domain("missing.test")
    publish(
        server_dns,
        expected(domain),
        zone="missing.test",
        skip={"mx", "dkim", "dmarc", "srv_imaps", "autoconfig"},
    )

    results = domain_check(domain=domain)

    found = statuses(results)
    assert {
        k: found[k] for k in ("mx", "dkim", "dmarc", "srv_imaps", "autoconfig")
    } == dict.fromkeys(("mx", "dkim", "dmarc", "srv_imaps", "autoconfig"), "missing")
    assert found["spf"] == found["verify"] == found["srv_pop3s"] == "ok"


def test_it_reports_wrong_records_with_what_was_found_instead(make_domain, server_dns):
    domain = make_domain("wrong.test")
    other_key = "v=DKIM1;k=rsa;p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAotherkey"
    publish(
        server_dns,
        expected(domain),
        zone="wrong.test",
        replace={
            "mx": ["10 mx.elsewhere.test."],
            "spf": ["v=spf1 include:_spf.elsewhere.test -all"],
            "dkim": [other_key],
            "dmarc": ["v=DMARC1; p=reject; rua=mailto:someone@elsewhere.test"],
            "autodiscover": ["autodiscover.elsewhere.test."],
            "srv_imaps": ["0 1 143 imap.provider.test."],
            "verify": ["domain-verify=not-the-token"],
        },
    )

    results = domain_check(domain=domain)

    assert {k: v for k, v in statuses(results).items() if v != "ok"} == dict.fromkeys(
        ("mx", "spf", "dkim", "dmarc", "autodiscover", "srv_imaps", "verify"), "wrong"
    )
    assert by_key(results, "mx").found == ["10 mx.elsewhere.test"]
    assert "not to mail.provider.test" in by_key(results, "mx").detail
    assert "a:mail.provider.test is missing" in by_key(results, "spf").detail
    assert "different key" in by_key(results, "dkim").detail
    dmarc = by_key(results, "dmarc")
    assert "p=reject is published, the plan is p=none" in dmarc.detail
    assert dmarc.found == ["v=DMARC1; p=reject; rua=mailto:someone@elsewhere.test"]
    assert by_key(results, "autodiscover").found == ["autodiscover.elsewhere.test"]


@pytest.mark.parametrize(
    ("key", "published", "status", "detail"),
    [
        # SPF that authorizes us and more: fine
        (
            "spf",
            ["v=spf1 mx a:mail.provider.test include:_spf.google.test ~all"],
            "ok",
            "authorizes the server",
        ),
        # two SPF records are a permerror
        (
            "spf",
            ["v=spf1 mx a:mail.provider.test -all", "v=spf1 include:x.test -all"],
            "wrong",
            "2 SPF records",
        ),
        ("spf", ["v=spf1 mx a:mail.provider.test ip4:300.1.1.1 -all"], "wrong", "not an IPv4"),
        ("spf", ["v=spf1 mx a:mail.provider.test +all"], "wrong", "+all"),
        # an unrelated TXT beside the SPF is fine
        ("spf", ["google-site-verification=abc", "v=spf1 mx a:mail.provider.test -all"], "ok", ""),
        ("spf", ["google-site-verification=abc"], "missing", "no SPF record"),
        ("dmarc", ["v=DMARC1; rua=mailto:postmaster@partly.test"], "wrong", "p= is required"),
        (
            "dmarc",
            ["v=DMARC1; p=none; rua=mailto:postmaster@partly.test", "v=DMARC1; p=none"],
            "wrong",
            "More than one",
        ),
        (
            "dmarc",
            ["v=DMARC1; p=none; pct=100; rua=mailto:x@y.test,mailto:postmaster@partly.test"],
            "ok",
            "",
        ),
        ("dmarc", ["v=DMARC1; p=none"], "wrong", "reports do not go to postmaster@partly.test"),
        # another MX beside ours splits the mail
        (
            "mx",
            ["10 mail.provider.test.", "20 backup.elsewhere.test."],
            "wrong",
            "backup.elsewhere.test",
        ),
        # our host at another priority is fine
        ("mx", ["5 mail.provider.test."], "ok", ""),
        ("srv_imaps", ["10 5 993 imap.provider.test."], "ok", ""),
        ("dkim", ["v=DKIM1; k=rsa; t=s"], "wrong", "No DKIM public key"),
    ],
)
def test_it_judges_partly_right_records(make_domain, server_dns, key, published, status, detail):
    domain = make_domain("partly.test")
    publish(server_dns, expected(domain), zone="partly.test", replace={key: published})

    result = by_key(domain_check(domain=domain), key)

    assert result.status == status, (result.found, result.detail)
    assert detail in result.detail
    others = {k: v for k, v in statuses(domain_check(domain=domain)).items() if k != key}
    assert set(others.values()) == {"ok"}


def test_it_counts_spf_lookups_through_nested_includes(make_domain, server_dns):
    # given an include chain costing 11 lookups in all
    domain = make_domain("spfchain.test")
    for n in range(4):
        server_dns.set_record(
            "spfchain.test",
            f"_spf{n}.spfchain.test",
            "TXT",
            [f"v=spf1 a mx include:_spf{n + 1}.spfchain.test -all"],
        )
    server_dns.set_record(
        "spfchain.test", "_spf4.spfchain.test", "TXT", ["v=spf1 ip4:192.0.2.1 -all"]
    )
    publish(
        server_dns,
        expected(domain),
        zone="spfchain.test",
        replace={"spf": ["v=spf1 mx a:mail.provider.test include:_spf0.spfchain.test -all"]},
    )

    spf = by_key(domain_check(domain=domain), "spf")

    # mx, a, include (3) + 4 × (a, mx, include) = 15
    assert spf.status == "wrong"
    assert "15 DNS lookups, more than the limit of 10" in spf.detail


def test_it_reports_reverse_dns_that_names_another_host(make_domain, server_dns):
    domain = make_domain("ptr.test")
    publish(server_dns, expected(domain), zone="ptr.test")
    server_dns.set_record(
        "2.0.192.in-addr.arpa", "25.2.0.192.in-addr.arpa", "PTR", ["vps-1234.hoster.test."]
    )
    try:
        ptr = by_key(domain_check(domain=domain), "ptr")
    finally:
        server_dns.set_record(
            "2.0.192.in-addr.arpa", "25.2.0.192.in-addr.arpa", "PTR", ["mail.provider.test."]
        )

    assert ptr.status == "wrong"
    assert ptr.found == ["192.0.2.25 → vps-1234.hoster.test"]


def test_it_checks_txt_values_that_contain_quotes(make_domain, server_dns, tenants):
    # given a TLS-RPT address with a quote in its local part (legal in email) published as such
    from mailherd.core.actors import Actor
    from mailherd.dns.services import dns_settings_update

    domain = make_domain("quotes.test")
    dns_settings_update(
        actor=Actor.for_user(tenants.alice), domain=domain, tls_rpt_rua="tls-reports@quotes.test"
    )
    records = expected(domain)
    publish(server_dns, records, zone="quotes.test", skip={"tls_rpt"})
    set_txt_zone_form(
        server_dns,
        "quotes.test",
        "_smtp._tls.quotes.test",
        ['v=TLSRPTv1; rua=mailto:"odd"@quotes.test'],
    )

    result = by_key(domain_check(domain=domain), "tls_rpt")

    assert result.status == "wrong"
    assert result.found == ['v=TLSRPTv1; rua=mailto:"odd"@quotes.test']
