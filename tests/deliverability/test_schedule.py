"""The DMARC schedule (dns app) follows the reports: a due stage is held while senders would fail."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.dns.models import DmarcStage
from mailherd.dns.selectors import dns_settings_for
from mailherd.dns.services import (
    dmarc_schedule_recommended,
    dmarc_schedule_set,
    dmarc_stages_apply,
    dns_settings_update,
)
from tests.deliverability.conftest import ingest_days
from tests.deliverability.reports import Row

pytestmark = pytest.mark.django_db

GOOD, NEWSLETTER = "192.0.2.10", "198.51.100.20"


def _schedule(domain, tenants):
    now = timezone.now()
    dmarc_schedule_set(
        actor=Actor.for_user(tenants.alice),
        domain=domain,
        stages=dmarc_schedule_recommended(now=now),
    )
    return now


def test_a_due_stage_is_held_while_a_source_fails_and_the_owner_is_told_once(
    tenants, acme_domain, mailoutbox
):
    ingest_days(
        acme_domain,
        days=30,
        rows_for_day=lambda d: [Row(GOOD, 100), Row(NEWSLETTER, 30, spf=False, dkim=False)],
    )
    now = _schedule(acme_domain, tenants)
    assert dmarc_stages_apply(now=now + timedelta(days=15)) == 0
    assert dns_settings_for(domain=acme_domain).dmarc_policy == "none"
    stage = DmarcStage.objects.get(policy="quarantine", pct=25)
    assert stage.applied_at is None and stage.held_at is not None
    assert NEWSLETTER in stage.held_reason
    assert mailoutbox[-1].subject == "acme.test: DMARC tightening held back"
    assert NEWSLETTER in mailoutbox[-1].body and "/deliverability/" in mailoutbox[-1].body
    sent = len(mailoutbox)
    assert dmarc_stages_apply(now=now + timedelta(days=15, minutes=10)) == 0
    assert len(mailoutbox) == sent  # told once


def test_a_due_stage_applies_when_every_source_passes(
    tenants, acme_domain, mailoutbox, django_capture_on_commit_callbacks
):
    ingest_days(acme_domain, days=30, rows_for_day=lambda d: [Row(GOOD, 100)])
    now = _schedule(acme_domain, tenants)
    with django_capture_on_commit_callbacks(execute=True):
        assert dmarc_stages_apply(now=now + timedelta(days=15)) == 1
    settings_now = dns_settings_for(domain=acme_domain)
    assert (settings_now.dmarc_policy, settings_now.dmarc_pct) == ("quarantine", 25)
    assert mailoutbox[-1].subject.startswith("acme.test: time to tighten DMARC")


def test_a_stage_never_loosens_a_policy_already_stricter(tenants, acme_domain):
    now = _schedule(acme_domain, tenants)
    dns_settings_update(
        actor=Actor.for_user(tenants.alice),
        domain=acme_domain,
        dmarc_policy="quarantine",
        dmarc_pct=100,
    )
    assert dmarc_stages_apply(now=now + timedelta(days=15)) == 0
    settings_now = dns_settings_for(domain=acme_domain)
    assert (settings_now.dmarc_policy, settings_now.dmarc_pct) == ("quarantine", 100)
    assert DmarcStage.objects.get(pct=25).applied_at is not None


def test_taking_the_proposed_step_through_the_api(api, acme_domain):
    ingest_days(
        acme_domain,
        days=30,
        rows_for_day=lambda d: [Row(GOOD, 100), Row(NEWSLETTER, 30, spf=False, dkim=False)],
    )
    response = api.post_raw(
        "/domains/acme.test/dmarc/proposal/apply", b"", content_type="application/json"
    )
    assert response.status_code == 409
    assert (
        response.json()["code"] == "proposal_not_ready" and NEWSLETTER in response.json()["message"]
    )
    assert dns_settings_for(domain=acme_domain).dmarc_policy == "none"


def test_taking_the_proposed_step_in_the_portal(alice_client, acme_domain):
    ingest_days(acme_domain, days=30, rows_for_day=lambda d: [Row(GOOD, 100)])
    page = alice_client.get("/o/acme/domains/acme.test/deliverability/").content.decode()
    assert "Move to p=quarantine; pct=25 now" in page
    response = alice_client.post(
        "/o/acme/domains/acme.test/deliverability/proposal/apply/", follow=True
    )
    assert "DMARC moves to p=quarantine; pct=25" in response.content.decode()
    assert dns_settings_for(domain=acme_domain).dmarc_pct == 25
    # The DNS page tells what the reports say next to the schedule.
    records = alice_client.get("/o/acme/domains/acme.test/dns/").content.decode()
    assert "What the reports say:" in records and "p=quarantine" in records


def test_outsiders_cannot_take_the_step(client, tenants, acme_domain, globex_domain):
    ingest_days(acme_domain, days=30, rows_for_day=lambda d: [Row(GOOD, 100)])
    client.force_login(tenants.bob)
    assert (
        client.post("/o/acme/domains/acme.test/deliverability/proposal/apply/").status_code == 404
    )
    assert (
        client.post("/o/globex/domains/acme.test/deliverability/proposal/apply/").status_code == 404
    )
    assert dns_settings_for(domain=acme_domain).dmarc_policy == "none"
