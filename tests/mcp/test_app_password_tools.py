"""MCP: app passwords through the same service as the REST API."""

import pytest

from mailherd.core.actors import Actor
from mailherd.hosting.services.mailboxes import mailbox_create
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db(transaction=True)  # the MCP service reads from its own thread


def test_create_list_delete_app_password(acme_mcp, tenants):
    verified_domain(tenants.acme, "acme.test")
    mailbox_create(actor=Actor.system(), organization=tenants.acme, address="jane@acme.test")
    created = acme_mcp.call(
        "create_app_password", address="jane@acme.test", name="Outlook", protocols=["imap", "smtp"]
    )
    assert created["isError"] is False, created
    content = created["structuredContent"]
    assert content["password"] and content["name"] == "Outlook"
    listed = acme_mcp.call("list_app_passwords", address="jane@acme.test")["structuredContent"]
    assert [p["id"] for p in listed["app_passwords"]] == [content["id"]]
    assert "password" not in listed["app_passwords"][0]
    assert (
        acme_mcp.call(
            "delete_app_password", address="jane@acme.test", id=content["id"], confirm=True
        )["isError"]
        is False
    )
    other = acme_mcp.call("create_app_password", address="bob@globex.test", name="x")
    assert other["isError"] is True and other["structuredContent"]["code"] == "not_found"
