import pytest

from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PAGES = [
    "/operator/",
    "/operator/tenancy/organization/",
    "/operator/plans/plan/",
    "/operator/tenancy/membership/",
    "/operator/mailcow/mailserver/",
    "/operator/core/auditevent/",
    "/operator/notifications/notificationlog/",
    "/operator/notifications/announcement/",
    "/operator/operator/featureswitch/",
]


@pytest.mark.parametrize("page", PAGES)
def test_operators_with_two_factor_see_the_back_office(ops_client, tenants, page):
    response = ops_client.get(page)
    assert response.status_code == 200


def test_organizations_are_listed_with_plan_and_members(ops_client, tenants):
    response = ops_client.get("/operator/tenancy/organization/")
    assert (
        b"Acme" in response.content
        and b"Globex" in response.content
        and b"Starter" in response.content
    )


@pytest.mark.parametrize("page", PAGES)
def test_customers_even_owners_get_no_back_office(alice_client, tenants, page):
    # given alice, the owner of Acme, signed in
    # when she opens any back-office page
    response = alice_client.get(page)
    # then she is sent to the back-office sign-in, which refuses her
    assert response.status_code == 302 and "/operator/login/" in response["Location"]
    denied = alice_client.get(response["Location"])
    assert denied.status_code == 403
    assert b"Acme" not in denied.content and b"Globex" not in denied.content


def test_an_operator_without_two_factor_is_told_to_ask_for_a_set_up_link(
    client, operator_user, tenants
):
    # given a staff user without TOTP
    client.force_login(operator_user)
    # when they open the back office, or any page in it
    for page in ("/operator/", "/operator/tenancy/organization/"):
        response = client.get(page)
        # then they are told how to get in, and see nothing of the back office
        assert response.status_code == 403
        assert b"set-up link" in response.content and b"Acme" not in response.content


def test_the_back_office_sign_in_goes_through_the_two_factor_sign_in(client, db):
    response = client.get("/operator/login/?next=/operator/plans/plan/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    # Django admin's password-only form (which would skip the TOTP step) is never shown
    assert client.post("/operator/login/", {"username": "x", "password": "y"}).status_code == 302


def test_the_back_office_sign_in_ignores_foreign_next_urls(ops_client):
    response = ops_client.get("/operator/login/?next=https://evil.example/")
    assert response["Location"] == "/operator/"


def test_an_inactive_staff_account_gets_nothing(client, db):
    user = make_user("gone@operator.test", staff=True)
    user.is_active = False
    user.save()
    client.force_login(user)
    assert client.get("/operator/").status_code == 302


def test_seeded_plans_match_the_design(db):
    from mailherd.plans.models import Plan

    starter = Plan.objects.get(slug="starter")
    assert (
        starter.max_domains,
        starter.max_mailboxes,
        starter.max_aliases,
        starter.max_storage_mb,
    ) == (3, 10, 30, 10240)
    assert set(Plan.objects.values_list("slug", flat=True)) >= {"starter", "business", "enterprise"}


def test_usage_is_reported_against_the_plan(tenants):
    from mailherd.plans.selectors import organization_usage

    usage = organization_usage(organization=tenants.acme)
    assert {name: (item.used, item.limit) for name, item in usage.items()} == {
        "domains": (0, 3),
        "mailboxes": (0, 10),
        "aliases": (0, 30),
        "storage_mb": (0, 10240),
    }
