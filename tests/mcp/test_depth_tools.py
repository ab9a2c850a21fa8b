"""MCP tools for Mailcow's deeper settings, over the same services as the REST API."""

import pytest

from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.models import Domain, Mailbox
from mailherd.hosting.provisioning import outbox_drain
from mailherd.mailcow.client import RateLimit
from mailherd.mailcow.services import client_for
from tests.hosting.conftest import verified_domain
from tests.mcp.test_tools import ok, refused

pytestmark = pytest.mark.django_db(transaction=True)  # the MCP service reads from its own thread
SYSTEM = Actor.system()


def test_rate_limit_tools(acme_mcp, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="jane@acme.test", quota_mb=10
    )
    refused(
        acme_mcp.call(
            "set_mailbox_rate_limit",
            address="jane@acme.test",
            rate_limit={"value": 100, "frame": "s"},
        ),
        "rate_limit_above_plan",
    )
    out = ok(
        acme_mcp.call(
            "set_mailbox_rate_limit",
            address="jane@acme.test",
            rate_limit={"value": 40, "frame": "h"},
        )
    )
    assert out["rate_limit"] == {"value": 40, "frame": "h", "source": "custom"}
    out = ok(
        acme_mcp.call(
            "set_domain_rate_limit", name="acme.test", rate_limit={"value": 300, "frame": "h"}
        )
    )
    assert out["rate_limit"]["value"] == 300
    outbox_drain()
    mailcow = client_for(mail_server)
    assert mailcow.get_mailbox_rate_limit("jane@acme.test") == RateLimit(40, "h")
    assert mailcow.get_domain_rate_limit("acme.test") == RateLimit(300, "h")
    out = ok(acme_mcp.call("set_mailbox_rate_limit", address="jane@acme.test", rate_limit=None))
    assert out["rate_limit"]["source"] == "plan"


def test_rate_limit_tools_cannot_reach_another_organization(acme_mcp, tenants, mail_server):
    verified_domain(tenants.globex, "globex.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.globex, address="hank@globex.test", quota_mb=10
    )
    refused(
        acme_mcp.call(
            "set_mailbox_rate_limit",
            address="hank@globex.test",
            rate_limit={"value": 1, "frame": "h"},
        ),
        "not_found",
    )
    refused(
        acme_mcp.call(
            "set_domain_rate_limit", name="globex.test", rate_limit={"value": 1, "frame": "h"}
        ),
        "not_found",
    )
    assert Mailbox.objects.get(address="hank@globex.test").rate_limit is None
    assert Domain.objects.get(name="globex.test").rate_limit is None


def test_relay_tool(acme_mcp, tenants, mail_server):
    from mailherd.mailcow.relays import relay_add

    relay_add(actor=SYSTEM, name="resend", host="smtp.resend.com", spf_include="amazonses.com")
    verified_domain(tenants.acme, "acme.test")
    plan = tenants.acme.plan
    plan.features = [*plan.features, "custom_relay"]
    plan.save()
    out = ok(acme_mcp.call("set_domain_relay", name="acme.test", relay="resend"))
    assert out["relay"] == "resend"
    assert any("include:amazonses.com" in r["value"] for r in out["records"])
    verified_domain(tenants.globex, "globex.test")
    refused(acme_mcp.call("set_domain_relay", name="globex.test", relay="resend"), "not_found")


def test_quarantine_and_sync_job_tools(acme_mcp, tenants, mail_server, sim, old_imap, settings):
    settings.MAILHERD_ALLOW_PRIVATE_TARGETS = True
    verified_domain(tenants.acme, "acme.test")
    verified_domain(tenants.globex, "globex.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="jane@acme.test", quota_mb=10
    )
    outbox_drain()
    ours = sim.state.add_quarantine_item(rcpt="jane@acme.test", subject="Invoice")
    sim.state.add_quarantine_item(rcpt="hank@globex.test", subject="Globex only")
    listed = ok(acme_mcp.call("list_quarantine"))["messages"]
    assert [m["subject"] for m in listed] == ["Invoice"]
    ident = f"{mail_server.pk}-{ours.id}"
    assert ok(acme_mcp.call("preview_quarantined", id=ident))["headers"]["Subject"] == "Invoice"
    assert ok(acme_mcp.call("release_quarantined", id=ident))["status"] == "releasing"

    refused(
        acme_mcp.call(
            "create_sync_job",
            mailbox="jane@acme.test",
            host="127.0.0.1",
            port=old_imap.imap_port,
            security="plain",
            user="jane@old.test",
            password="wrong",
        ),
        "source_login_failed",
    )
    job = ok(
        acme_mcp.call(
            "create_sync_job",
            mailbox="jane@acme.test",
            host="127.0.0.1",
            port=old_imap.imap_port,
            security="plain",
            user="jane@old.test",
            password="old-secret-1",
        )
    )
    outbox_drain()
    assert ok(acme_mcp.call("get_sync_job", id=job["id"]))["status"] == "active"
    assert ok(acme_mcp.call("delete_sync_job", id=job["id"], confirm=True)) == {
        "deleted": job["id"]
    }
