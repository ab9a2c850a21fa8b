"""The organization pages of the back office: search, filters, detail and each action."""

import pytest

from mailherd.core.actors import Actor
from mailherd.core.models import AuditEvent
from mailherd.hosting.services.domains import domain_add
from mailherd.plans.models import Plan
from mailherd.tenancy.models import Organization

pytestmark = pytest.mark.django_db

LIST = "/operator/tenancy/organization/"


def tiny_plan() -> Plan:
    return Plan.objects.create(
        slug="tiny", name="Tiny", max_domains=1, max_mailboxes=1, max_aliases=1, max_storage_mb=100
    )


def test_organizations_can_be_searched_by_name_and_member_email(ops_client, tenants):
    response = ops_client.get(LIST, {"q": "bob@globex"})
    assert b"Globex" in response.content and b">Acme<" not in response.content


@pytest.mark.parametrize(
    "query",
    [
        "status__exact=suspended",
        "plan__id__exact={plan}",
        "created_at__gte=2000-01-01+00%3A00%3A00%2B00%3A00",
    ],
)
def test_organizations_can_be_filtered(ops_client, tenants, query):
    tiny = tiny_plan()
    tenants.globex.plan = tiny
    tenants.globex.status = Organization.Status.SUSPENDED
    tenants.globex.save()
    response = ops_client.get(f"{LIST}?{query.format(plan=tiny.pk)}")
    assert response.status_code == 200
    assert b"Globex" in response.content
    if "created" not in query:
        assert b">Acme<" not in response.content


def test_the_detail_shows_members_usage_domains_and_history(ops_client, tenants):
    domain_add(actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="acme.test")
    response = ops_client.get(f"{LIST}{tenants.acme.pk}/change/")
    content = response.content.decode()
    assert response.status_code == 200
    assert "alice@acme.test" in content  # member
    assert 'id="org-usage"' in content and "Domains: 1 of 3" in content
    assert "acme.test" in content  # domain
    assert "domain.add" in content and "organization.create" in content  # history
    for action in ("View as customer", "Change plan", "Suspend"):
        assert action in content


def test_changing_the_plan_moves_the_organization_and_is_audited(ops_client, tenants):
    business = Plan.objects.get(slug="business")
    response = ops_client.post(f"{LIST}{tenants.acme.pk}/change-plan/", {"plan": business.pk})
    assert response.status_code == 302
    tenants.acme.refresh_from_db()
    assert tenants.acme.plan == business
    event = AuditEvent.objects.get(action="organization.plan_change")
    assert event.organization == tenants.acme and event.data == {
        "from": "starter",
        "to": "business",
    }
    assert event.actor_kind == "operator"


def test_a_plan_change_below_usage_is_refused_with_the_list_of_excesses(ops_client, tenants):
    # given Acme with two domains and two... on a plan allowing one
    actor = Actor.for_user(tenants.alice)
    domain_add(actor=actor, organization=tenants.acme, name="acme.test")
    domain_add(actor=actor, organization=tenants.acme, name="acme.example")
    tiny = tiny_plan()
    # when the operator moves it to Tiny
    response = ops_client.post(f"{LIST}{tenants.acme.pk}/change-plan/", {"plan": tiny.pk})
    # then nothing changes and the page lists what is over
    assert response.status_code == 200
    assert b"plan-change-refused" in response.content
    assert b"Remove 1 domain (you use 2; Tiny allows 1)." in response.content
    tenants.acme.refresh_from_db()
    assert tenants.acme.plan.slug == "starter"
    assert not AuditEvent.objects.filter(action="organization.plan_change").exists()


def test_the_plan_change_service_names_every_excess(tenants):
    from mailherd.operator.errors import PlanChangeRefused
    from mailherd.operator.services import organization_plan_change

    actor = Actor.for_user(tenants.alice)
    domain_add(actor=actor, organization=tenants.acme, name="acme.test")
    domain_add(actor=actor, organization=tenants.acme, name="acme.example")
    zero = Plan.objects.create(
        slug="zero", name="Zero", max_domains=0, max_mailboxes=0, max_aliases=0, max_storage_mb=0
    )
    with pytest.raises(PlanChangeRefused) as refused:
        organization_plan_change(
            actor=Actor.system(), organization_id=tenants.acme.pk, plan_id=zero.pk
        )
    assert refused.value.code == "plan_change_refused"
    assert refused.value.fields["problems"] == ["Remove 2 domains (you use 2; Zero allows 0)."]


def test_suspend_and_reactivate_go_through_the_hosting_services(ops_client, tenants):
    url = f"{LIST}{tenants.acme.pk}/"
    response = ops_client.post(url + "suspend/", {"reason": "fraud check"})
    assert response.status_code == 302
    tenants.acme.refresh_from_db()
    assert tenants.acme.status == Organization.Status.SUSPENDED
    assert AuditEvent.objects.get(action="organization.suspend").data == {"reason": "fraud check"}
    assert b"Reactivate" in ops_client.get(url + "change/").content

    assert ops_client.get(url + "reactivate/").status_code == 405  # a change needs a POST
    ops_client.post(url + "reactivate/")
    tenants.acme.refresh_from_db()
    assert tenants.acme.status == Organization.Status.ACTIVE
    assert AuditEvent.objects.filter(action="organization.restore").count() == 1


def test_bulk_suspend_and_reactivate_actions(ops_client, tenants):
    ids = [tenants.acme.pk, tenants.globex.pk]
    # suspending asks first (test_back_office_words), then acts
    ops_client.post(LIST, {"action": "suspend_selected", "_selected_action": ids, "confirmed": "yes"})
    assert set(Organization.objects.values_list("status", flat=True)) == {"suspended"}
    ops_client.post(LIST, {"action": "reactivate_selected", "_selected_action": ids})
    assert set(Organization.objects.values_list("status", flat=True)) == {"active"}


def test_plan_and_status_cannot_be_edited_around_the_actions(ops_client, tenants):
    response = ops_client.get(f"{LIST}{tenants.acme.pk}/change/")
    assert b'name="plan"' not in response.content and b'name="status"' not in response.content


def test_view_as_customer_is_read_only_and_audited(ops_client, tenants, ops_user):
    base = f"/operator/view-as/{tenants.acme.pk}/"
    # when the operator opens the customer view, twice
    first = ops_client.get(base)
    ops_client.get(base + "members/")
    # then they see Acme's portal as its owner does, with links kept inside the view
    assert first.status_code == 200
    content = first.content.decode()
    assert "Read-only view of Acme" in content
    assert f'href="{base}members/"' in content
    assert f'href="/o/{tenants.acme.slug}/members/"' not in content
    # and Acme's audit trail records it once per session
    events = AuditEvent.objects.filter(action="organization.view_as_customer")
    assert [(e.organization, e.actor_user) for e in events] == [(tenants.acme, ops_user)]
    # and nothing can be changed through it
    before = Organization.objects.get(pk=tenants.acme.pk).name
    response = ops_client.post(base + "settings/", {"name": "Hijacked"})
    assert response.status_code == 302
    assert Organization.objects.get(pk=tenants.acme.pk).name == before
    assert not tenants.acme.invitations.exists()


def test_view_as_customer_is_for_operators_only(alice_client, tenants):
    response = alice_client.get(f"/operator/view-as/{tenants.globex.pk}/")
    assert response.status_code == 302 and "/operator/login/" in response["Location"]
    assert not AuditEvent.objects.filter(action="organization.view_as_customer").exists()


def test_view_as_customer_only_serves_organization_pages(ops_client, tenants):
    assert ops_client.get(f"/operator/view-as/{tenants.acme.pk}/../../operator/").status_code == 404
    assert ops_client.get("/operator/view-as/999999/").status_code == 404


def test_organizations_can_be_filtered_by_subscription_state(ops_client, tenants):
    from mailherd.billing.models import Subscription

    Subscription.objects.create(organization=tenants.acme, status="past_due")
    response = ops_client.get("/operator/tenancy/organization/?billing__status__exact=past_due")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Acme" in content and "Globex" not in content


def test_plan_fit_problems_speak_singular_and_human_units(tenants, monkeypatch):
    from mailherd.plans.models import Plan
    from mailherd.plans.selectors import plan_fit_problems

    monkeypatch.setattr(
        "mailherd.hosting.selectors.hosting_usage_counts",
        lambda organization, **_: {"domains": 2, "mailboxes": 3, "aliases": 0, "storage_mb": 15360},
    )
    tiny = Plan(
        name="Tiny", max_domains=1, max_mailboxes=2, max_aliases=5, max_storage_mb=10240
    )
    assert plan_fit_problems(organization=tenants.acme, plan=tiny) == [
        "Remove 1 domain (you use 2; Tiny allows 1).",
        "Remove 1 mailbox (you use 3; Tiny allows 2).",
        "Remove 5 GiB of mailbox storage (you use 15 GiB; Tiny allows 10 GiB).",
    ]
