"""Invitations are limited per organization and per sender each hour; a burst alerts the operator."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.core.models import AuditEvent
from mailherd.tenancy.errors import InvitationRateLimited
from mailherd.tenancy.models import Invitation, Membership
from mailherd.tenancy.services import invitation_create
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings):
    settings.MAILHERD_INVITATIONS_PER_ORG_HOUR = 5
    settings.MAILHERD_INVITATIONS_PER_SENDER_HOUR = 3
    settings.MAILHERD_OPERATOR_ALERT_EMAILS = ["noc@operator.test"]
    return settings


def invite(user, organization, email):
    membership = Membership.objects.get(user=user, organization=organization)
    return invitation_create(
        actor=Actor.for_user(user), membership=membership, email=email, role="member"
    )


def _sent_to(address):
    return [m for m in mail.outbox if address in m.to]


def test_one_sender_gets_a_few_per_hour_then_a_plain_refusal(
    tenants, limits, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            invite(tenants.alice, tenants.acme, f"guest{n}@elsewhere.test")
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(InvitationRateLimited) as refused,
    ):
        invite(tenants.alice, tenants.acme, "guest3@elsewhere.test")
    assert refused.value.http_status == 429 and refused.value.code == "rate_limited"
    assert "You have sent 3 invitations in the last hour" in refused.value.message
    assert "Try again in" in refused.value.message
    assert Invitation.objects.filter(organization=tenants.acme).count() == 3
    assert not _sent_to("guest3@elsewhere.test")  # no email went out


def test_the_organization_limit_holds_across_its_admins(tenants, limits):
    admins = []
    for n in range(3):
        user = make_user(f"admin{n}@acme.test")
        Membership.objects.create(user=user, organization=tenants.acme, role="admin")
        admins.append(user)
    sent = 0
    for user in admins:
        for k in range(2):
            try:
                invite(user, tenants.acme, f"{user.pk}-{k}@elsewhere.test")
                sent += 1
            except InvitationRateLimited as exc:
                assert "Acme has sent 5 invitations" in exc.message
    assert sent == 5
    # another organization is not held back by Acme's burst
    invite(tenants.bob, tenants.globex, "friend@elsewhere.test")


def test_the_limit_is_per_hour(tenants, limits):
    for n in range(3):
        invite(tenants.alice, tenants.acme, f"old{n}@elsewhere.test")
    Invitation.objects.update(created_at=timezone.now() - timedelta(minutes=61))
    invite(tenants.alice, tenants.acme, "new@elsewhere.test")


def test_a_burst_alerts_the_operator_once(tenants, limits, django_capture_on_commit_callbacks):
    for n in range(3):
        invite(tenants.alice, tenants.acme, f"spam{n}@victims.test")
    for n in range(5):
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(InvitationRateLimited):
            invite(tenants.alice, tenants.acme, f"more{n}@victims.test")
    alerts = _sent_to("noc@operator.test")
    assert len(alerts) == 1
    assert alerts[0].subject == "Invitation burst: Acme hit the hourly limit"
    assert "/operator/tenancy/organization/" in alerts[0].body
    row = AuditEvent.objects.get(action="invitation.burst")
    assert row.organization == tenants.acme and row.data["sent_last_hour"] == 3
    assert row.data["scope"] == "sender"


def test_without_alert_addresses_every_active_operator_hears_of_it(
    tenants, limits, django_capture_on_commit_callbacks
):
    limits.MAILHERD_OPERATOR_ALERT_EMAILS = []
    make_user("ops1@operator.test", staff=True)
    for n in range(3):
        invite(tenants.alice, tenants.acme, f"x{n}@victims.test")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InvitationRateLimited):
        invite(tenants.alice, tenants.acme, "x9@victims.test")
    assert len(_sent_to("ops1@operator.test")) == 1


def test_the_portal_and_the_api_say_why(tenants, limits, client):
    from mailherd.api.services import api_token_create

    client.force_login(tenants.alice)
    for n in range(3):
        invite(tenants.alice, tenants.acme, f"p{n}@elsewhere.test")
    page = client.post(
        f"/o/{tenants.acme.slug}/members/",
        {"email": "p9@elsewhere.test", "role": "member"},
        follow=True,
    )
    assert "invitations in the last hour" in page.content.decode()
    # the API answers 429 with the same words (the organization limit: a token is no person)
    plan = tenants.acme.plan
    plan.features = sorted({*plan.features, "api"})
    plan.save()
    _token, secret = api_token_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="script"
    )
    answers = [
        client.post(
            "/api/v1/invitations",
            {"email": f"api{n}@elsewhere.test", "role": "member"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )
        for n in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[-1].json()["code"] == "rate_limited"
    # when to come back, as every 429 of the API says it
    assert 0 < int(answers[-1]["Retry-After"]) <= 3600
    assert int(answers[-1]["Retry-After"]) == answers[-1].json()["retry_after"]


def test_subjects_are_plain_text(tenants, settings, django_capture_on_commit_callbacks):
    tenants.acme.name = "Smith & Sons <Ltd>"
    tenants.acme.save()
    with django_capture_on_commit_callbacks(execute=True):
        invite(tenants.alice, tenants.acme, "kim@elsewhere.test")
    (message,) = _sent_to("kim@elsewhere.test")
    assert "Smith & Sons <Ltd>" in message.subject and "&amp;" not in message.subject
