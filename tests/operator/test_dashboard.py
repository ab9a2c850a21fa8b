import pytest

from mailherd.core.actors import Actor
from mailherd.hosting.models import Mailbox, ProvisioningOp
from mailherd.mailcow.models import MailServer
from mailherd.operator.selectors import operator_dashboard
from mailherd.tenancy.models import Organization
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(db):
    return MailServer.objects.create(
        name="mx-eu-1",
        api_url="http://127.0.0.1:9",
        api_key="k",
        capacity_mailboxes=4,
        version="2025-03",
    )


def test_organizations_are_counted_by_state(tenants):
    Organization.objects.filter(pk=tenants.globex.pk).update(status="suspended")
    dashboard = operator_dashboard()
    assert {value: count for value, _, count in dashboard.organizations_by_status} == {
        "active": 1,
        "suspended": 1,
        "closed": 0,
    }
    assert dashboard.organizations_total == 2


def test_without_subscriptions_there_is_no_recurring_revenue(tenants):
    # organizations on the default plan that pay nothing are not revenue
    dashboard = operator_dashboard()
    assert dashboard.mrr == [] and dashboard.past_due_count == 0


def test_mailboxes_per_server_are_shown_against_capacity(tenants, server):
    # given Acme on mx-eu-1 with three mailboxes (capacity 4)
    Organization.objects.filter(pk=tenants.acme.pk).update(mail_server=server)
    tenants.acme.refresh_from_db()
    domain = verified_domain(tenants.acme, "acme.test")
    domain.mail_server = server
    domain.save()
    for name in ("a", "b", "c"):
        Mailbox.objects.create(
            organization=tenants.acme,
            domain=domain,
            local_part=name,
            address=f"{name}@acme.test",
            quota_mb=100,
        )
    # when the dashboard is computed
    [load] = operator_dashboard().servers
    # then
    assert (load.server, load.mailboxes, load.organizations, load.percent) == (server, 3, 1, 75)


def test_the_outbox_backlog_and_errors_are_shown(ops_client, tenants, server):
    from django.utils import timezone

    for status, error in (
        ("pending", ""),
        ("pending", ""),
        ("failed", "Mailcow said: quota exceeded"),
    ):
        ProvisioningOp.objects.create(
            organization=tenants.acme,
            mail_server=server,
            object_key="mailbox:x@acme.test",
            kind="mailbox.create",
            status=status,
            last_error=error,
            next_attempt_at=timezone.now(),
        )
    dashboard = operator_dashboard()
    assert dashboard.outbox["pending"] == 2 and dashboard.outbox["failed"] == 1
    response = ops_client.get("/operator/")
    content = response.content.decode()
    assert "Mailcow said: quota exceeded" in content
    assert 'id="ops-outbox"' in content


def test_the_dashboard_page_shows_every_panel(ops_client, tenants, server):
    response = ops_client.get("/operator/")
    content = response.content.decode()
    for panel in ("ops-organizations", "ops-revenue", "ops-outbox", "ops-switches", "ops-servers"):
        assert f'id="{panel}"' in content
    assert "mx-eu-1" in content and "0 / 4 mailboxes" in content


def test_the_server_list_shows_health_version_and_capacity(ops_client, server):
    server.last_health_ok = False
    server.save()
    response = ops_client.get("/operator/mailcow/mailserver/")
    content = response.content.decode()
    assert "mx-eu-1" in content and "2025-03" in content and "0 / 4 (0%)" in content
    assert "icon-no.svg" in content  # unhealthy


def test_a_server_health_check_can_be_run_from_the_list(ops_client, server):
    response = ops_client.post(
        "/operator/mailcow/mailserver/",
        {"action": "check_health", "_selected_action": [server.pk]},
        follow=True,
    )
    assert b"0 of 1 server(s) healthy" in response.content
    server.refresh_from_db()
    assert server.last_health_ok is False and server.last_health_error


def test_organization_actions_record_the_operator_as_actor(ops_client, tenants, ops_user):
    ops_client.post(f"/operator/tenancy/organization/{tenants.acme.pk}/suspend/", {"reason": ""})
    from mailherd.core.models import AuditEvent

    event = AuditEvent.objects.get(action="organization.suspend")
    assert (event.actor_kind, event.actor_user, event.ip) == ("operator", ops_user, "127.0.0.1")
    assert Actor.for_user(ops_user).kind == "operator"
