"""The tools, end to end: MCP → the same services as the REST API → the outbox → the simulator."""

import pytest

from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.models import Alias, Domain, Mailbox
from mailherd.hosting.provisioning import outbox_drain
from mailherd.mailcow.services import client_for
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system()


def ok(result):
    assert result["isError"] is False, result
    return result["structuredContent"]


def refused(result, code):
    assert result["isError"] is True, result
    assert result["structuredContent"]["code"] == code, result
    assert result["structuredContent"]["message"]
    return result["structuredContent"]


def test_create_mailbox_end_to_end_on_the_simulator(acme_mcp, tenants, mail_server, sim):
    verified_domain(tenants.acme, "acme.test")
    created = ok(
        acme_mcp.call("create_mailbox", address="Jane@acme.test", quota_mb=512, name="Jane")
    )
    assert created["address"] == "jane@acme.test" and created["status"] == "pending"
    assert len(created["password"]) >= 10  # generated, shown once
    outbox_drain()

    remote = client_for(mail_server).get_mailbox("jane@acme.test")
    assert remote is not None
    listed = ok(acme_mcp.call("list_mailboxes", domain="acme.test"))["mailboxes"]
    assert [(m["address"], m["status"], m["quota_mb"]) for m in listed] == [
        ("jane@acme.test", "active", 512)
    ]

    # a chosen password is never echoed
    chosen = ok(
        acme_mcp.call("create_mailbox", address="joe@acme.test", password="S3cure-enough-pass!")
    )
    assert chosen["password"] is None

    updated = ok(
        acme_mcp.call("update_mailbox", address="jane@acme.test", quota_mb=1024, active=False)
    )
    assert updated["quota_mb"] == 1024 and updated["active"] is False

    usage = ok(acme_mcp.call("get_usage"))
    assert usage["mailboxes"]["used"] == 2 and usage["domains"]["used"] == 1

    alias = ok(acme_mcp.call("create_alias", address="sales@acme.test", goto=["jane@acme.test"]))
    assert alias["goto"] == ["jane@acme.test"] and alias["active"] is True
    alias = ok(acme_mcp.call("update_alias", address="sales@acme.test", active=False))
    assert alias["active"] is False
    assert [a["address"] for a in ok(acme_mcp.call("list_aliases"))["aliases"]] == [
        "sales@acme.test"
    ]
    assert ok(acme_mcp.call("delete_alias", address="sales@acme.test", confirm=True)) == {
        "deleted": "sales@acme.test"
    }
    assert ok(acme_mcp.call("delete_mailbox", address="joe@acme.test", confirm=True)) == {
        "deleted": "joe@acme.test"
    }
    outbox_drain()
    assert not Alias.objects.filter(address="sales@acme.test").exists()
    assert client_for(mail_server).get_mailbox("joe@acme.test") is None


def test_the_eleventh_mailbox_on_a_plan_of_ten_is_refused_before_mailcow(
    acme_mcp, tenants, mail_server, sim
):
    plan = tenants.acme.plan
    plan.max_mailboxes = 10
    plan.save(update_fields=["max_mailboxes"])
    verified_domain(tenants.acme, "acme.test")
    for number in range(10):
        ok(acme_mcp.call("create_mailbox", address=f"user{number}@acme.test", quota_mb=100))
    outbox_drain()
    before = sim.request_count()

    error = refused(
        acme_mcp.call("create_mailbox", address="user10@acme.test", quota_mb=100),
        "plan_limit_exceeded",
    )
    assert "10" in error["message"]
    outbox_drain()
    assert sim.request_count() == before
    assert not Mailbox.objects.filter(address="user10@acme.test").exists()


def test_domains(acme_mcp, tenants, mail_server):
    domain = ok(acme_mcp.call("add_domain", name="new-acme.test"))
    assert domain["status"] == "unverified" and domain["verified"] is False
    assert domain["verification"]["name"] == "_domain-verify.new-acme.test"
    assert domain["records"]
    got = ok(acme_mcp.call("get_domain", name="new-acme.test"))
    assert got["verification"] == domain["verification"]
    assert [d["name"] for d in ok(acme_mcp.call("list_domains"))["domains"]] == ["new-acme.test"]

    refused(acme_mcp.call("add_domain", name="new-acme.test"), "domain_exists")
    refused(acme_mcp.call("get_domain", name="missing.test"), "not_found")
    refused(acme_mcp.call("delete_domain", name="new-acme.test", confirm="wrong.test"), "confirmation_required")
    assert Domain.objects.filter(name="new-acme.test").exists()
    assert ok(acme_mcp.call("delete_domain", name="new-acme.test", confirm="new-acme.test")) == {
        "deleted": "new-acme.test"
    }
    assert not Domain.objects.filter(name="new-acme.test").exists()


def test_service_errors_are_tool_results_not_protocol_errors(acme_mcp, tenants):
    refused(acme_mcp.call("create_mailbox", address="x@nowhere.test"), "not_found")


@pytest.fixture
def globex_objects(tenants, mail_server):
    verified_domain(tenants.globex, "globex.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.globex, address="hank@globex.test", quota_mb=10
    )
    services.alias_create(
        actor=SYSTEM,
        organization=tenants.globex,
        address="sales@globex.test",
        goto=["hank@globex.test"],
    )
    return tenants


OUTSIDER_CALLS = [
    ("get_domain", {"name": "globex.test"}),
    ("verify_domain", {"name": "globex.test"}),
    ("check_domain_dns", {"name": "globex.test"}),
    ("delete_domain", {"name": "globex.test", "confirm": "globex.test"}),
    ("update_mailbox", {"address": "hank@globex.test", "quota_mb": 5}),
    ("delete_mailbox", {"address": "hank@globex.test", "confirm": True}),
    ("update_alias", {"address": "sales@globex.test", "active": False}),
    ("delete_alias", {"address": "sales@globex.test", "confirm": True}),
]


@pytest.mark.parametrize("tool,arguments", OUTSIDER_CALLS)
def test_outsider_cannot_touch_another_organizations_objects(
    globex_objects, acme_mcp, tool, arguments
):
    refused(acme_mcp.call(tool, **arguments), "not_found")
    assert Mailbox.objects.get(address="hank@globex.test").quota_mb == 10
    assert Alias.objects.get(address="sales@globex.test").enabled
    assert Domain.objects.filter(name="globex.test").exists()


def test_outsider_lists_are_empty_and_creates_are_refused(globex_objects, acme_mcp):
    assert ok(acme_mcp.call("list_domains")) == {"count": 0, "domains": []}
    assert ok(acme_mcp.call("list_mailboxes")) == {"count": 0, "mailboxes": []}
    assert ok(acme_mcp.call("list_mailboxes", domain="globex.test")) == {
        "count": 0,
        "mailboxes": [],
    }
    assert ok(acme_mcp.call("list_aliases", search="sales")) == {"count": 0, "aliases": []}
    result = acme_mcp.call("create_mailbox", address="intruder@globex.test")
    assert result["isError"] is True
    assert not Mailbox.objects.filter(address="intruder@globex.test").exists()
    result = acme_mcp.call("create_alias", address="x@globex.test", goto=["hank@globex.test"])
    assert result["isError"] is True
    assert not Alias.objects.filter(address="x@globex.test").exists()


def test_bob_cannot_see_acme_through_his_token(acme_mcp, globex_mcp, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    ok(acme_mcp.call("create_mailbox", address="jane@acme.test"))
    assert ok(globex_mcp.call("list_mailboxes")) == {"count": 0, "mailboxes": []}
    refused(globex_mcp.call("get_domain", name="acme.test"), "not_found")
    refused(globex_mcp.call("delete_mailbox", address="jane@acme.test", confirm=True), "not_found")
    assert Mailbox.objects.filter(address="jane@acme.test").exists()


def test_create_mailbox_takes_a_password_hash_like_the_api(acme_mcp, tenants, mail_server, sim):
    from mailherd.hosting.passwords import hash_password

    verified_domain(tenants.acme, "acme.test")
    moved = ok(
        acme_mcp.call(
            "create_mailbox", address="moved@acme.test", password_hash=hash_password("Kept-from-before-1")
        )
    )
    assert moved["password"] is None  # nothing generated: the user keeps their password
    outbox_drain()
    assert sim.login("moved@acme.test", "Kept-from-before-1")
    refused(
        acme_mcp.call("create_mailbox", address="bad@acme.test", password_hash="{PLAIN}nope"),
        "invalid",
    )
    ok(acme_mcp.call("update_mailbox", address="moved@acme.test", password_hash=hash_password("Changed-later-2")))
    outbox_drain()
    assert sim.login("moved@acme.test", "Changed-later-2")
    assert not Mailbox.objects.filter(address="bad@acme.test").exists()


def test_a_huge_or_negative_offset_is_a_tool_error_not_a_crash(acme_mcp, tenants):
    for offset in (-1, 9223372036854775808):
        result = acme_mcp.call("list_mailboxes", offset=offset)
        assert result["isError"] is True, result
    assert ok(acme_mcp.call("list_mailboxes", offset=10_000_000))["mailboxes"] == []
