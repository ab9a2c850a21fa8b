"""Alias domains and per-domain allow/block lists: API and portal, the outbox to the simulator,
the TXT verification against a real PowerDNS, the plan's domain limit, the reconciler, outsiders."""

import pytest

from mailherd.core.actors import Actor
from mailherd.core.models import AuditEvent
from mailherd.dns.records import domain_records
from mailherd.hosting import services
from mailherd.hosting.models import Domain, DomainPolicy
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.reconciler import reconcile_server
from mailherd.mailcow.services import client_for
from tests.dns.conftest import reset_zone, server_dns  # noqa: F401  (fixtures)
from tests.hosting.conftest import verified_domain
from tests.support.powerdns import dns_nameserver, powerdns  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


@pytest.fixture
def acme(tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    outbox_drain()
    return client_for(mail_server)


def test_alias_domain_verified_by_txt_then_on_mailcow_with_its_own_records(
    api, acme, mail_server, server_dns  # noqa: F811
):
    status, body = api("post", "/alias-domains", {"name": "acme-mail.test", "target": "acme.test"})
    assert status == 201, body
    assert body["target"] == "acme.test" and body["alias_of"] == "acme.test"
    assert body["status"] == "unverified" and body["verification"]["type"] == "TXT"
    # Not verified yet: nothing on the mail server.
    outbox_drain()
    assert acme.get_alias_domain("acme-mail.test") is None
    status, _ = api("post", "/domains/acme-mail.test/verify")
    assert status == 409  # no TXT record yet
    reset_zone(server_dns, "acme-mail.test")
    verification = body["verification"]
    server_dns.set_record("acme-mail.test", verification["name"], "TXT", [verification["value"]])
    status, verified = api("post", "/domains/acme-mail.test/verify")
    assert status == 200, verified
    outbox_drain()
    remote = acme.get_alias_domain("acme-mail.test")
    assert remote is not None and remote.target == "acme.test" and remote.active
    domain = Domain.objects.get(name="acme-mail.test")
    assert domain.status == "active" and domain.mail_server == mail_server
    # Its own records: MX, SPF, its own DKIM key (not the target's), DMARC.
    records = {r.key: r for r in domain_records(domain)}
    target = Domain.objects.get(name="acme.test")
    assert records["mx"].name == "acme-mail.test"
    assert records["dkim"].name.endswith("._domainkey.acme-mail.test")
    assert domain.dkim_txt and domain.dkim_txt != target.dkim_txt
    status, listed = api("get", "/alias-domains")
    assert [d["name"] for d in listed] == ["acme-mail.test"] and listed[0]["status"] == "active"
    # No mailbox or alias under an alias domain: the target's addresses already receive there.
    status, error = api("post", "/mailboxes", {"address": "x@acme-mail.test", "password": "Secret-pass-1"})
    assert status == 422 and "alias domain of acme.test" in error["message"]
    # The target cannot go while an alias domain points to it.
    status, error = api("delete", "/domains/acme.test")
    assert status == 422 and "acme-mail.test" in error["message"]
    # Removed again: gone from the server with its DKIM key.
    assert api("delete", "/alias-domains/acme-mail.test")[0] == 204
    outbox_drain()
    assert acme.get_alias_domain("acme-mail.test") is None and acme.get_dkim("acme-mail.test") is None
    assert AuditEvent.objects.filter(action="alias_domain.add").count() == 1


def test_alias_domains_count_against_the_plans_domains(api, acme, tenants):
    plan = tenants.acme.plan
    plan.max_domains = 2
    plan.save()
    assert api("post", "/alias-domains", {"name": "one.test", "target": "acme.test"})[0] == 201
    status, error = api("post", "/alias-domains", {"name": "two.test", "target": "acme.test"})
    assert status == 409 and error["code"] == "plan_limit_exceeded"
    assert api("get", "/usage")[1]["domains"]["used"] == 2


def test_alias_domain_refusals_and_outsiders(api, acme, tenants):
    verified_domain(tenants.globex, "globex.test")
    services.domain_add(actor=SYSTEM, organization=tenants.acme, name="waiting.test")
    cases = [
        ({"name": "x.test", "target": "globex.test"}, 404),  # another organization's domain
        ({"name": "x.test", "target": "waiting.test"}, 422),  # not verified
        ({"name": "acme.test", "target": "acme.test"}, 422),  # itself
        ({"name": "globex.test", "target": "acme.test"}, 409),  # verified by someone else
        ({"name": "not a domain", "target": "acme.test"}, 422),
    ]
    for body, expected in cases:
        status, error = api("post", "/alias-domains", body)
        assert status == expected, (body, error)
    assert not Domain.objects.filter(alias_of__isnull=False).exists()
    services_alias = Domain.objects.create(
        organization=tenants.globex, name="globex-alias.test", verification_token="x",
        alias_of=Domain.objects.get(name="globex.test"),
    )
    assert api("get", f"/alias-domains/{services_alias.name}")[0] == 404
    assert api("delete", f"/alias-domains/{services_alias.name}")[0] == 404


def test_reconciler_puts_a_removed_alias_domain_back(api, acme, mail_server):
    from django.utils import timezone

    from mailherd.hosting.services.aliasdomains import alias_domain_add
    from mailherd.hosting.services.domains import _domain_claim

    domain = alias_domain_add(actor=SYSTEM, organization=Domain.objects.get(name="acme.test").organization,
                              name="acme-alias.test", target="acme.test")
    _domain_claim(actor=SYSTEM, domain_id=domain.pk, now=timezone.now())
    outbox_drain()
    acme.delete_alias_domain("acme-alias.test")  # behind our back
    result = reconcile_server(server=mail_server)
    assert "alias domain acme-alias.test: missing" in result.repaired
    outbox_drain()
    assert acme.get_alias_domain("acme-alias.test") is not None
    assert not reconcile_server(server=mail_server).repaired


def test_domain_allow_and_block_lists(api, acme, tenants):
    status, entry = api("post", "/domains/acme.test/policy", {"list": "allow", "sender": "Partner.example"})
    assert status == 201 and entry["sender"] == "partner.example" and entry["status"] == "pending"
    status, _ = api("post", "/domains/acme.test/policy", {"list": "block", "sender": "*@spam.example"})
    assert status == 201
    status, error = api("post", "/domains/acme.test/policy", {"list": "block", "sender": "partner.example"})
    assert status == 409 and "allow list" in error["message"]
    status, error = api("post", "/domains/acme.test/policy", {"list": "block", "sender": "not ok!"})
    assert status == 422 and error["field"] == "sender"
    assert api("post", "/domains/acme.test/policy", {"list": "maybe", "sender": "a.example"})[0] == 422
    outbox_drain()
    remote = acme.list_domain_policy("acme.test")
    assert [(e.list, e.value) for e in remote] == [("allow", "partner.example"), ("block", "*@spam.example")]
    listed = api("get", "/domains/acme.test/policy")[1]
    assert {e["status"] for e in listed} == {"active"}
    allow = next(e for e in listed if e["list"] == "allow")
    assert api("delete", f"/domains/acme.test/policy/{allow['id']}")[0] == 204
    outbox_drain()
    assert [e.value for e in acme.list_domain_policy("acme.test")] == ["*@spam.example"]
    assert AuditEvent.objects.filter(action="domain.policy_add").count() == 2
    assert AuditEvent.objects.filter(action="domain.policy_delete").count() == 1
    # Outsiders: another organization's domain does not exist for this token.
    verified_domain(tenants.globex, "globex.test")
    assert api("get", "/domains/globex.test/policy")[0] == 404
    assert api("post", "/domains/globex.test/policy", {"list": "allow", "sender": "a.example"})[0] == 404
    entry = DomainPolicy.objects.create(domain=Domain.objects.get(name="globex.test"), list="allow", sender="b.example")
    assert api("delete", f"/domains/globex.test/policy/{entry.pk}")[0] == 404
    assert api("delete", f"/domains/acme.test/policy/{entry.pk}")[0] == 404


def test_portal_adds_an_alias_domain_and_list_entries(alice_client, acme, tenants):
    slug = tenants.acme.slug
    page = f"/o/{slug}/domains/acme.test/"
    shown = alice_client.get(page).content.decode()
    assert "Alias domains" in shown and "Allow and block lists" in shown
    response = alice_client.post(page + "alias-domains/", {"alias_name": "acme-mail.test"})
    assert response.status_code == 302 and response["Location"].endswith("/domains/acme-mail.test/")
    alias_page = alice_client.get(response["Location"]).content.decode()
    assert "Prove that the domain is yours" in alias_page  # verified by its TXT record like a domain
    assert Domain.objects.get(name="acme-mail.test").alias_of.name == "acme.test"
    response = alice_client.post(page + "alias-domains/", {"alias_name": "acme.test"}, follow=True)
    assert "cannot point to itself" in response.content.decode()
    # Allow and block lists.
    alice_client.post(page + "policy/", {"list": "block", "sender": "*@spam.example"})
    response = alice_client.post(page + "policy/", {"list": "allow", "sender": "*@spam.example"}, follow=True)
    assert "already on the block list" in response.content.decode()
    entry = DomainPolicy.objects.get(sender="*@spam.example")
    shown = alice_client.get(page).content.decode()
    assert "*@spam.example" in shown and "Pending" in shown
    outbox_drain()
    assert [e.value for e in acme.list_domain_policy("acme.test")] == ["*@spam.example"]
    alice_client.post(page + f"policy/{entry.pk}/delete/")
    outbox_drain()
    assert acme.list_domain_policy("acme.test") == []
    # The domain list says which domains are aliases.
    assert "alias of acme.test" in alice_client.get(f"/o/{slug}/domains/").content.decode()


def test_a_plain_member_cannot_change_lists(client, acme, tenants):
    from mailherd.tenancy.models import Membership, Role
    from tests.conftest import make_user

    member = make_user("mo@acme.test")
    Membership.objects.create(organization=tenants.acme, user=member, role=Role.MEMBER)
    client.force_login(member)
    page = f"/o/{tenants.acme.slug}/domains/acme.test/"
    client.post(page + "policy/", {"list": "block", "sender": "x.example"})
    client.post(page + "alias-domains/", {"alias_name": "acme-mail.test"})
    assert not DomainPolicy.objects.exists() and not Domain.objects.filter(alias_of__isnull=False).exists()
    # Another organization's owner gets 404.
    client.force_login(tenants.bob)
    assert client.post(page + "policy/", {"list": "block", "sender": "x.example"}).status_code == 404
