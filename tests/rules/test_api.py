"""Mail rules through the REST API: the shapes scripts depend on, the plan, Sieve on the
simulator (pending → active, or error with Mailcow's sieve_error), audit, and outsiders."""

import pytest
from sievelib.parser import Parser

from mailherd.core.models import AuditEvent
from mailherd.hosting.provisioning import outbox_drain
from mailherd.rules.models import Rule
from mailherd.rules.sieve import SCRIPT_DESCRIPTION

from .conftest import on_plan

pytestmark = pytest.mark.django_db

INVOICE_RULE = {
    "mailbox": "ann@acme.test",
    "name": "Invoices",
    "match": "all",
    "conditions": [{"field": "subject", "op": "contains", "value": "invoice"}],
    "actions": [
        {"type": "task"},
        {"type": "forward", "to": ["accounting@acme.test"], "keep_copy": True},
    ],
    "priority": 10,
    "stop": True,
}


def _scripts(sim, address):
    return [f for f in sim.state.filters.values() if f.username == address]


def test_create_a_rule_goes_pending_then_active_with_the_sieve_script_on_the_server(api, sim):
    status, body = api("post", "/rules", INVOICE_RULE)
    assert status == 201, body
    assert body["status"] == "pending" and isinstance(body["id"], int)
    assert body["mailbox"] == "ann@acme.test" and body["domain"] is None
    assert body["actions"][1] == {
        "type": "forward",
        "to": ["accounting@acme.test"],
        "keep_copy": True,
    }
    outbox_drain()
    status, got = api("get", f"/rules/{body['id']}")
    assert status == 200 and got["status"] == "active" and got["error"] == ""
    [script] = _scripts(sim, "ann@acme.test")
    assert script.script_desc == SCRIPT_DESCRIPTION and script.filter_type == "prefilter"
    assert Parser().parse(script.script_data)
    assert 'header :contains ["subject"] "invoice"' in script.script_data
    assert 'redirect :copy "accounting@acme.test"' in script.script_data
    assert "stop;" in script.script_data
    assert AuditEvent.objects.filter(action="rule.create").count() == 1


def test_change_and_delete_replace_the_script_each_time(api, sim):
    rule_id = api("post", "/rules", INVOICE_RULE)[1]["id"]
    outbox_drain()
    status, body = api(
        "patch",
        f"/rules/{rule_id}",
        {"actions": [{"type": "fileinto", "folder": "Invoices"}, {"type": "mark_read"}]},
    )
    assert status == 200 and body["status"] == "pending"
    outbox_drain()
    [script] = _scripts(sim, "ann@acme.test")  # replaced, not added
    assert 'fileinto :create "Invoices"' in script.script_data
    assert 'addflag "\\\\Seen"' in script.script_data and "redirect" not in script.script_data
    assert api("get", f"/rules/{rule_id}")[1]["status"] == "active"
    assert api("delete", f"/rules/{rule_id}")[0] == 204
    outbox_drain()
    assert _scripts(sim, "ann@acme.test") == []
    assert api("get", f"/rules/{rule_id}")[0] == 404
    actions = list(
        AuditEvent.objects.filter(action__startswith="rule.").values_list("action", flat=True)
    )
    assert sorted(actions) == ["rule.create", "rule.delete", "rule.update"]


def test_a_domain_rule_reaches_every_mailbox_of_the_domain_and_new_ones(api, sim, acme_mail):
    from mailherd.core.actors import Actor
    from mailherd.hosting.services.mailboxes import mailbox_create

    status, body = api(
        "post",
        "/rules",
        {
            "domain": "acme.test",
            "name": "Newsletters",
            "conditions": [{"field": "header:List-Id", "op": "contains", "value": "news"}],
            "actions": [{"type": "fileinto", "folder": "News"}],
        },
    )
    assert status == 201 and body["domain"] == "acme.test" and body["mailbox"] is None
    outbox_drain()
    assert api("get", f"/rules/{body['id']}")[1]["status"] == "active"
    for address in ("ann@acme.test", "bob@acme.test"):
        [script] = _scripts(sim, address)
        assert 'header :contains ["List-Id"] "news"' in script.script_data
    mailbox_create(actor=Actor.system(), organization=acme_mail.acme, address="cy@acme.test")
    outbox_drain()
    assert len(_scripts(sim, "cy@acme.test")) == 1


def test_mailcows_sieve_error_shows_on_the_rule(api, sim, monkeypatch):
    from mailherd.rules import sieve

    monkeypatch.setattr(sieve, "compile_script", lambda rules: 'fileinto "Oops";\n')
    rule_id = api("post", "/rules", INVOICE_RULE)[1]["id"]
    outbox_drain()
    status, body = api("get", f"/rules/{rule_id}")
    assert body["status"] == "error"
    assert "line 1: unknown command fileinto" in body["error"]
    assert _scripts(sim, "ann@acme.test") == []


def test_the_out_of_office_filter_is_left_alone(api, sim, acme_mail):
    from mailherd.core.actors import Actor
    from mailherd.webmail.autoreply import AUTOREPLY_DESCRIPTION, autoreply_set

    autoreply_set(
        actor=Actor.system(),
        organization=acme_mail.acme,
        address="ann@acme.test",
        enabled=True,
        message="Away",
    )
    outbox_drain()
    rule_id = api("post", "/rules", INVOICE_RULE)[1]["id"]
    outbox_drain()
    api("patch", f"/rules/{rule_id}", {"name": "Invoices again"})
    outbox_drain()
    filters = _scripts(sim, "ann@acme.test")
    assert sorted(f.script_desc for f in filters) == sorted(
        [AUTOREPLY_DESCRIPTION, SCRIPT_DESCRIPTION]
    )
    assert all(f.active for f in filters)  # one prefilter, one postfilter: both active


def test_plan_feature_and_limit_are_checked_before_anything(api, sim, acme_mail):
    on_plan(acme_mail.acme, max_mail_rules=1)
    assert api("post", "/rules", INVOICE_RULE)[0] == 201
    status, body = api("post", "/rules", {**INVOICE_RULE, "name": "Second"})
    assert status == 409 and body["code"] == "plan_limit_exceeded"
    assert body["limit"] == 1 and body["used"] == 1
    on_plan(acme_mail.acme, features=["api"])
    status, body = api("post", "/rules", {**INVOICE_RULE, "name": "Third"})
    assert status == 403 and body["code"] == "feature_not_in_plan"
    assert "not part of the Business plan" in body["message"]
    assert Rule.objects.count() == 1


@pytest.mark.parametrize(
    "change, field, words",
    [
        (
            {"conditions": [{"field": "colour", "op": "is", "value": "x"}]},
            "conditions",
            "not a field",
        ),
        (
            {"conditions": [{"field": "subject", "op": "regex", "value": "("}]},
            "conditions",
            "regular expression",
        ),
        (
            {"actions": [{"type": "forward", "to": ["not-an-address"]}]},
            "actions",
            "not an email address",
        ),
        (
            {"actions": [{"type": "discard"}, {"type": "task"}]},
            "actions",
            "cannot do anything else",
        ),
        (
            {
                "actions": [
                    {"type": "task"},
                    {"type": "forward", "to": ["a@acme.test"], "keep_copy": False},
                ]
            },
            "actions",
            "keep a copy",
        ),
        (
            {"actions": [{"type": "webhook", "url": "http://127.0.0.1/hook"}]},
            "actions",
            "must start with https://",
        ),
        ({"mailbox": None}, "mailbox", "either a mailbox"),
    ],
)
def test_invalid_rules_are_refused_in_plain_words(api, change, field, words):
    status, body = api("post", "/rules", {**INVOICE_RULE, **change})
    assert status == 422, body
    assert body["field"] == field and words in body["message"]


def test_forwarding_outside_the_domains_needs_the_plan_feature(api, acme_mail):
    on_plan(acme_mail.acme, features=["api", "mail_rules"])
    rule = {**INVOICE_RULE, "actions": [{"type": "forward", "to": ["x@elsewhere.example"]}]}
    status, body = api("post", "/rules", rule)
    assert status == 403 and body["feature"] == "external_forwarding"


def test_outsiders_see_and_touch_nothing(api, outsider, acme_mail):
    rule_id = api("post", "/rules", INVOICE_RULE)[1]["id"]
    assert outsider("get", "/rules")[1]["count"] == 0
    for method, path, body in [
        ("get", f"/rules/{rule_id}", None),
        ("patch", f"/rules/{rule_id}", {"name": "Mine now"}),
        ("delete", f"/rules/{rule_id}", None),
        ("post", f"/rules/{rule_id}/test", None),
    ]:
        status, answer = outsider(method, path, body)
        assert status == 404 and answer["message"] == f"No rule {rule_id} in this organization."
    status, answer = outsider("post", "/rules", INVOICE_RULE)  # Acme's mailbox
    assert status == 404 and "No mailbox ann@acme.test" in answer["message"]
    status, answer = outsider(
        "post", "/rules", {**INVOICE_RULE, "mailbox": None, "domain": "acme.test"}
    )
    assert status == 404
    status, answer = outsider("post", "/rules/test", {"mailbox": "ann@acme.test"})
    assert status == 404
    assert Rule.objects.get().name == "Invoices"


def test_webhook_rules_get_a_signing_secret_shown_once(api, settings):
    settings.MAILHERD_ALLOW_PRIVATE_TARGETS = True
    status, body = api(
        "post",
        "/rules",
        {**INVOICE_RULE, "actions": [{"type": "webhook", "url": "http://127.0.0.1:9/hook"}]},
    )
    assert status == 201 and body["webhook_secret"].startswith("whsec_")
    got = api("get", f"/rules/{body['id']}")[1]
    assert "webhook_secret" not in got
    assert api("get", "/rules", mailbox="ann@acme.test")[1]["count"] == 1
