"""MCP tools for a mailbox's own settings, over the same services as the REST API."""

import pytest

from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.provisioning import outbox_drain
from mailherd.mailcow.client import Protocol
from mailherd.mailcow.services import client_for
from tests.hosting.conftest import verified_domain
from tests.mcp.test_tools import ok, refused

pytestmark = pytest.mark.django_db(transaction=True)  # the MCP service reads from its own thread


def test_forwarding_protocols_and_spam_level_tools(acme_mcp, globex_mcp, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(actor=Actor.system(), organization=tenants.acme, address="jane@acme.test")
    out = ok(acme_mcp.call("set_mailbox_forwarding", address="jane@acme.test",
                           targets=["ops@acme.test"], keep_copy=False))
    assert out["targets"] == ["ops@acme.test"] and out["keep_copy"] is False
    out = ok(acme_mcp.call("set_mailbox_protocols", address="jane@acme.test", pop3=False))
    assert out["protocols"]["pop3"] is False and out["protocols"]["imap"] is True
    out = ok(acme_mcp.call("set_mailbox_spam_level", address="jane@acme.test", level="strict"))
    assert (out["level"], out["low"], out["high"]) == ("strict", 5.0, 10.0)
    refused(acme_mcp.call("set_mailbox_spam_level", address="jane@acme.test", level="loud"), "invalid")
    # Another organization's agent does not find the mailbox.
    refused(globex_mcp.call("set_mailbox_protocols", address="jane@acme.test", imap=False), "not_found")
    outbox_drain()
    with client_for(mail_server) as mailcow:
        assert mailcow.get_mailbox("jane@acme.test").access[Protocol.POP3] is False
        assert mailcow.get_spam_score("jane@acme.test") == (5.0, 10.0)
        [script] = mailcow.list_sieve_filters("jane@acme.test")
        assert 'redirect "ops@acme.test";' in script.script


def test_alias_domain_and_policy_tools(acme_mcp, globex_mcp, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    outbox_drain()
    out = ok(acme_mcp.call("create_alias_domain", name="acme-mail.test", target="acme.test"))
    assert out["target"] == "acme.test" and out["status"] == "unverified"
    assert ok(acme_mcp.call("list_alias_domains"))["alias_domains"][0]["name"] == "acme-mail.test"
    refused(globex_mcp.call("create_alias_domain", name="x.test", target="acme.test"), "not_found")
    entry = ok(acme_mcp.call("add_domain_policy", name="acme.test", list="block", sender="*@spam.example"))
    assert entry["list"] == "block"
    refused(globex_mcp.call("delete_domain_policy", name="acme.test", id=entry["id"], confirm=True), "not_found")
    outbox_drain()
    with client_for(mail_server) as mailcow:
        assert [e.value for e in mailcow.list_domain_policy("acme.test")] == ["*@spam.example"]
    listed = ok(acme_mcp.call("list_domain_policy", name="acme.test"))["entries"]
    assert listed[0]["status"] == "active"
    ok(acme_mcp.call("delete_domain_policy", name="acme.test", id=entry["id"], confirm=True))
    outbox_drain()
    with client_for(mail_server) as mailcow:
        assert mailcow.list_domain_policy("acme.test") == []
