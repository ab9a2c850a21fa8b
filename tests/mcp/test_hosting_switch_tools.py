"""With email hosting switched off, MCP hosting tools answer "maintenance" (and leave the list)."""

import pytest

from mailherd.core.actors import Actor
from mailherd.operator.services import feature_switch_set

pytestmark = pytest.mark.django_db(transaction=True)


def test_hosting_tools_answer_maintenance_while_hosting_is_off(acme_mcp, tenants, mail_server):
    listed = {tool.name for tool in acme_mcp.tools()}
    assert "list_domains" in listed
    feature_switch_set(actor=Actor.system(), name="email_hosting", enabled=False)
    try:
        answer = acme_mcp.call("list_domains")
        assert answer["isError"]
        assert answer["structuredContent"]["code"] == "maintenance"
        assert "paused for maintenance" in answer["structuredContent"]["message"]
        assert "list_domains" not in {tool.name for tool in acme_mcp.tools()}
        rules = acme_mcp.call("list_rules")  # mail rules are hosting too (as their pages are)
        assert rules["isError"] and rules["structuredContent"]["code"] == "maintenance"
    finally:
        feature_switch_set(actor=Actor.system(), name="email_hosting", enabled=True)
    assert not acme_mcp.call("list_domains")["isError"]
