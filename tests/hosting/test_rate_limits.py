"""Outbound rate limits: plan defaults, lower limits set by the customer, on the simulator over HTTP."""

import pytest

from mailherd.core.actors import Actor
from mailherd.core.models import AuditEvent
from mailherd.hosting import services
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.reconciler import reconcile_server
from mailherd.hosting.services.ratelimits import mailbox_rate_limit_set
from mailherd.mailcow.client import RateLimit
from mailherd.mailcow.services import client_for
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


@pytest.fixture
def acme_mail(tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="jane@acme.test", quota_mb=10
    )
    outbox_drain()
    return client_for(mail_server)


def test_the_plans_defaults_reach_mailcow(acme_mail):
    # Starter: 200 per hour per mailbox, 1000 per hour per domain (seeded).
    assert acme_mail.get_mailbox_rate_limit("jane@acme.test") == RateLimit(200, "h")
    assert acme_mail.get_domain_rate_limit("acme.test") == RateLimit(1000, "h")


def test_api_sets_a_lower_mailbox_limit_refuses_a_higher_one_and_null_goes_back(acme_mail, api):
    status, body = api(
        "patch", "/mailboxes/jane@acme.test", {"rate_limit": {"value": 20, "frame": "m"}}
    )
    assert status == 422 and body["code"] == "rate_limit_above_plan", body
    assert "200 per hour" in body["message"]

    status, body = api(
        "patch", "/mailboxes/jane@acme.test", {"rate_limit": {"value": 100, "frame": "h"}}
    )
    assert status == 200, body
    assert body["rate_limit"] == {"value": 100, "frame": "h", "source": "custom"}
    assert body["status"] == "pending"
    outbox_drain()
    assert acme_mail.get_mailbox_rate_limit("jane@acme.test") == RateLimit(100, "h")
    assert AuditEvent.objects.filter(action="mailbox.rate_limit").count() == 1

    status, body = api("patch", "/mailboxes/jane@acme.test", {"rate_limit": None})
    assert status == 200 and body["rate_limit"] == {"value": 200, "frame": "h", "source": "plan"}
    outbox_drain()
    assert acme_mail.get_mailbox_rate_limit("jane@acme.test") == RateLimit(200, "h")


def test_a_patch_with_a_bad_limit_changes_nothing_else(acme_mail, api):
    status, body = api(
        "patch",
        "/mailboxes/jane@acme.test",
        {"quota_mb": 20, "rate_limit": {"value": 5, "frame": "w"}},
    )
    assert status == 422 and "frame must be" in body["message"]
    status, body = api("get", "/mailboxes/jane@acme.test")
    assert body["quota_mb"] == 10 and body["rate_limit"]["source"] == "plan"


def test_api_domain_limit(acme_mail, api):
    status, body = api("patch", "/domains/acme.test", {"rate_limit": {"value": 10, "frame": "s"}})
    assert status == 422 and body["code"] == "rate_limit_above_plan"
    status, body = api("patch", "/domains/acme.test", {"rate_limit": {"value": 500, "frame": "h"}})
    assert status == 200 and body["rate_limit"]["value"] == 500
    outbox_drain()
    assert acme_mail.get_domain_rate_limit("acme.test") == RateLimit(500, "h")
    status, body = api("patch", "/domains/acme.test", {"rate_limit": None})
    assert body["rate_limit"] == {"value": 1000, "frame": "h", "source": "plan"}
    outbox_drain()
    assert acme_mail.get_domain_rate_limit("acme.test") == RateLimit(1000, "h")


def test_a_plan_without_limits_lets_any_limit_through_and_clears_on_null(acme_mail, api, tenants):
    plan = tenants.acme.plan
    plan.mailbox_rate_limit = 0
    plan.save()
    status, body = api(
        "patch", "/mailboxes/jane@acme.test", {"rate_limit": {"value": 9999, "frame": "m"}}
    )
    assert status == 200 and body["rate_limit"]["value"] == 9999
    status, body = api("patch", "/mailboxes/jane@acme.test", {"rate_limit": None})
    assert body["rate_limit"] is None
    outbox_drain()
    assert acme_mail.get_mailbox_rate_limit("jane@acme.test") is None


def test_a_downgrade_makes_the_plans_lower_limit_win(acme_mail, tenants, mail_server):
    mailbox_rate_limit_set(
        actor=SYSTEM,
        organization=tenants.acme,
        address="jane@acme.test",
        rate_limit={"value": 150, "frame": "h"},
    )
    outbox_drain()
    plan = tenants.acme.plan
    plan.mailbox_rate_limit = 50
    plan.save()
    result = reconcile_server(server=mail_server)
    assert any(
        "jane@acme.test: rate limit 150/h instead of 50/h" in line for line in result.repaired
    )
    outbox_drain()
    assert acme_mail.get_mailbox_rate_limit("jane@acme.test") == RateLimit(50, "h")


def test_the_reconciler_repairs_limits_changed_on_the_server(acme_mail, mail_server):
    acme_mail.clear_mailbox_rate_limit("jane@acme.test")
    acme_mail.set_domain_rate_limit("acme.test", 99999, "h")
    result = reconcile_server(server=mail_server)
    assert "mailbox jane@acme.test: rate limit none instead of 200/h" in result.repaired
    assert "domain acme.test: rate limit 99999/h instead of 1000/h" in result.repaired
    outbox_drain()
    assert acme_mail.get_mailbox_rate_limit("jane@acme.test") == RateLimit(200, "h")
    assert acme_mail.get_domain_rate_limit("acme.test") == RateLimit(1000, "h")
    assert reconcile_server(server=mail_server).repaired == []


def test_portal_shows_and_sets_the_limit(alice_client, acme_mail):
    page = alice_client.get("/o/acme/mailboxes/jane@acme.test/").content.decode()
    assert "Sending limit" in page and "200 per hour" in page and "plan's default" in page
    response = alice_client.post(
        "/o/acme/mailboxes/jane@acme.test/rate-limit/", {"value": "5000", "frame": "h"}, follow=True
    )
    assert "allows at most 200 per hour" in response.content.decode()
    response = alice_client.post(
        "/o/acme/mailboxes/jane@acme.test/rate-limit/", {"value": "3", "frame": "m"}, follow=True
    )
    page = response.content.decode()
    assert "Sending limit saved." in page and "3 per minute" in page and "set by you" in page
    outbox_drain()
    assert acme_mail.get_mailbox_rate_limit("jane@acme.test") == RateLimit(3, "m")
    response = alice_client.post(
        "/o/acme/domains/acme.test/rate-limit/", {"use_plan": "on", "frame": "h"}, follow=True
    )
    assert "1000 per hour" in response.content.decode()
