"""History, regressions (record removed or changed), the alert email and the periodic re-check."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.dns.models import DmarcStage, DnsCheck, DnsRegression
from mailherd.dns.services import (
    dmarc_schedule_recommended,
    dmarc_schedule_set,
    dmarc_stages_apply,
    dns_recheck_slot,
    domain_check,
)
from tests.dns.conftest import expected, publish

pytestmark = pytest.mark.django_db


def test_a_removed_record_opens_a_regression_and_emails_the_owner(
    make_domain, server_dns, mailoutbox, django_capture_on_commit_callbacks
):
    # given a domain whose records were all right at the last check
    domain = make_domain("regress.test")
    publish(server_dns, expected(domain), zone="regress.test")
    domain_check(domain=domain)
    assert not DnsRegression.objects.exists()

    # when the customer's DNS loses the MX and the DKIM key changes
    server_dns.delete_record("regress.test", "MX", "regress.test")
    server_dns.set_record(
        "regress.test", "dkim._domainkey.regress.test", "TXT", ["v=DKIM1; k=rsa; p=OTHERKEY"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        domain_check(domain=domain)

    # then two regressions are open, with what was there before
    regressions = {g.record_key: g for g in DnsRegression.objects.filter(domain=domain)}
    assert set(regressions) == {"mx", "dkim"}
    assert regressions["mx"].status == "missing" and regressions["mx"].found_before == [
        "10 mail.provider.test"
    ]
    assert regressions["dkim"].status == "wrong" and regressions["dkim"].found_now == [
        "v=DKIM1; k=rsa; p=OTHERKEY"
    ]
    # and the owner got one email naming both
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["alice@acme.test"]
    assert "regress.test" in message.subject and "2 records" in message.subject
    assert "MX regress.test" in message.body and "OTHERKEY" in message.body
    assert all(g.notified_at for g in DnsRegression.objects.all())

    # when checked again while still broken: no second regression, no second email
    with django_capture_on_commit_callbacks(execute=True):
        domain_check(domain=domain)
    assert DnsRegression.objects.count() == 2 and len(mailoutbox) == 1

    # when the records come back, the regressions close by themselves
    publish(server_dns, expected(domain), zone="regress.test")
    domain_check(domain=domain)
    assert not DnsRegression.objects.filter(resolved_at__isnull=True).exists()
    assert DnsCheck.objects.filter(domain=domain).count() == 4


def test_a_nameserver_failure_is_not_a_regression(make_domain, server_dns, settings):
    domain = make_domain("flaky.test")
    publish(server_dns, expected(domain), zone="flaky.test")
    domain_check(domain=domain)

    settings.MAILHERD_DNS_NAMESERVERS = ["127.0.0.1:9"]  # nothing listens: timeouts
    settings.MAILHERD_DNS_TIMEOUT = 1
    results = domain_check(domain=domain)

    assert {r.status for r in results} == {"unknown"}
    assert not DnsRegression.objects.exists()
    assert DnsCheck.objects.filter(domain=domain).first().unknown_count > 0


def test_a_new_dmarc_stage_is_a_record_to_update_not_a_regression(
    make_domain, server_dns, tenants, mailoutbox, django_capture_on_commit_callbacks
):
    # given a domain with correct records and the recommended DMARC schedule
    domain = make_domain("stages.test")
    publish(server_dns, expected(domain), zone="stages.test")
    domain_check(domain=domain)
    now = timezone.now()
    stages = dmarc_schedule_set(
        actor=Actor.for_user(tenants.alice),
        domain=domain,
        stages=dmarc_schedule_recommended(now=now),
    )
    assert [(s.policy, s.pct) for s in stages] == [
        ("quarantine", 25),
        ("quarantine", 100),
        ("reject", 100),
    ]

    # when the first stage falls due
    with django_capture_on_commit_callbacks(execute=True):
        assert dmarc_stages_apply(now=now + timedelta(days=15)) == 1

    # then the record to publish changes, the owner is told, and the old record shows "wrong" without an alert
    dmarc = next(r for r in expected(domain) if r.key == "dmarc")
    assert dmarc.value == "v=DMARC1; p=quarantine; pct=25; rua=mailto:postmaster@stages.test"
    assert mailoutbox[-1].subject.startswith("stages.test: time to tighten DMARC")
    assert dmarc.value in mailoutbox[-1].body
    result = next(r for r in domain_check(domain=domain) if r.record.key == "dmarc")
    assert result.status == "wrong"
    assert not DnsRegression.objects.exists()
    assert DmarcStage.objects.filter(applied_at__isnull=True).count() == 2


def test_a_schedule_must_tighten(make_domain, tenants):
    from mailherd.core.errors import ValidationFailed
    from mailherd.dns.services import StagePlan

    domain = make_domain("loosen.test")
    later = timezone.now() + timedelta(days=10)
    with pytest.raises(ValidationFailed):
        dmarc_schedule_set(
            actor=Actor.for_user(tenants.alice),
            domain=domain,
            stages=[
                StagePlan("reject", 100, later),
                StagePlan("quarantine", 100, later + timedelta(days=5)),
            ],
        )


def test_the_periodic_recheck_spreads_domains_over_the_period(make_domain, server_dns):
    # given three verified domains
    domains = [make_domain(f"period{n}.test") for n in range(3)]
    for d in domains:
        publish(server_dns, expected(d), zone=d.name)

    # when each slot of a 3-minute period runs
    checked = [dns_recheck_slot(period=3, slot=slot) for slot in range(3)]

    # then every domain was checked exactly once, one per slot, all ok
    assert checked == [1, 1, 1]
    for d in domains:
        check = DnsCheck.objects.get(domain=d)
        assert check.trigger == "schedule" and check.problem_count == 0 and check.unknown_count == 0


def test_could_not_check_between_ok_and_a_removed_record_still_opens_a_regression(
    make_domain, server_dns, settings, mailoutbox, django_capture_on_commit_callbacks
):
    domain = make_domain("gap.test")
    publish(server_dns, expected(domain), zone="gap.test")
    domain_check(domain=domain)
    nameservers = settings.MAILHERD_DNS_NAMESERVERS

    settings.MAILHERD_DNS_NAMESERVERS = ["127.0.0.1:9"]  # could not check
    settings.MAILHERD_DNS_TIMEOUT = 1
    domain_check(domain=domain)
    assert not DnsRegression.objects.exists()

    settings.MAILHERD_DNS_NAMESERVERS = nameservers
    server_dns.delete_record("gap.test", "MX", "gap.test")
    with django_capture_on_commit_callbacks(execute=True):
        domain_check(domain=domain)

    regression = DnsRegression.objects.get(domain=domain)
    assert regression.record_key == "mx" and regression.found_before == ["10 mail.provider.test"]
    assert len(mailoutbox) == 1 and "gap.test" in mailoutbox[0].subject


def test_check_history_is_pruned_to_the_window_keeping_the_newest(make_domain, settings):
    from mailherd.dns.services import dns_check_history_prune

    settings.MAILHERD_DNS_CHECK_HISTORY_DAYS = 30
    old_domain, busy_domain = make_domain("old.test"), make_domain("busy.test")
    now = timezone.now()

    def check(domain, days_ago):
        return DnsCheck.objects.create(
            domain=domain,
            organization_id=domain.organization_id,
            checked_at=now - timedelta(days=days_ago),
        )

    only_old = [check(old_domain, 100), check(old_domain, 60)]
    [check(busy_domain, days) for days in (90, 45, 31)]
    recent = [check(busy_domain, 29), check(busy_domain, 1)]

    assert dns_check_history_prune(now=now) == 4
    assert set(DnsCheck.objects.values_list("pk", flat=True)) == {only_old[1].pk} | {
        c.pk for c in recent
    }
