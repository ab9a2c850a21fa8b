import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page", ["/operator/", "/operator/tenancy/organization/", "/operator/plans/plan/", "/operator/tenancy/membership/"])
def test_operators_see_the_back_office(client, operator_user, tenants, page):
    client.force_login(operator_user)
    response = client.get(page)
    assert response.status_code == 200


def test_organizations_are_listed_with_plan_and_members(client, operator_user, tenants):
    client.force_login(operator_user)
    response = client.get("/operator/tenancy/organization/")
    assert b"Acme" in response.content and b"Globex" in response.content and b"Starter" in response.content


def test_customers_even_owners_get_no_back_office(alice_client):
    response = alice_client.get("/operator/tenancy/organization/")
    assert response.status_code == 302 and "/operator/login/" in response["Location"]


def test_seeded_plans_match_the_design(db):
    from mailherd.plans.models import Plan

    starter = Plan.objects.get(slug="starter")
    assert (starter.max_domains, starter.max_mailboxes, starter.max_aliases, starter.max_storage_mb) == (3, 10, 30, 10240)
    assert set(Plan.objects.values_list("slug", flat=True)) >= {"starter", "business", "enterprise"}


def test_usage_is_reported_against_the_plan(tenants):
    from mailherd.plans.selectors import organization_usage

    usage = organization_usage(organization=tenants.acme)
    assert {name: (item.used, item.limit) for name, item in usage.items()} == {
        "domains": (0, 3), "mailboxes": (0, 10), "aliases": (0, 30), "storage_mb": (0, 10240),
    }
