from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.core.models import AuditEvent
from mailherd.tenancy import services
from mailherd.tenancy.errors import (
    AlreadyMember,
    InvalidOrganizationName,
    InvitationInvalid,
    LastOwner,
)
from mailherd.tenancy.models import Invitation, Membership, Organization, Role
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def _invite(tenants, email, role=Role.MEMBER, django_capture_on_commit_callbacks=None):
    return services.invitation_create(
        actor=Actor.for_user(tenants.alice), membership=tenants.alice_membership, email=email, role=role
    )


def _token_from_outbox() -> str:
    body = mail.outbox[-1].body
    return body.split("/invitations/")[1].split("/")[0]


def test_it_creates_an_organization_with_its_creator_as_owner_on_the_default_plan():
    user = make_user("carol@initech.test")
    organization = services.organization_create(actor=Actor.for_user(user), name="  Initech   Corp ")
    assert organization.name == "Initech Corp"
    assert organization.slug == "initech-corp"
    assert organization.plan.slug == "starter"
    assert Membership.objects.get(organization=organization).role == Role.OWNER
    assert AuditEvent.objects.filter(action="organization.create", organization=organization).exists()


@pytest.mark.parametrize("name,message", [("   ", "Give your organization a name"), ("x" * 101, "at most 100")])
def test_it_rejects_empty_or_over_long_names_and_creates_nothing(name, message):
    user = make_user("dave@example.test")
    with pytest.raises(InvalidOrganizationName, match=message):
        services.organization_create(actor=Actor.for_user(user), name=name)
    assert not Organization.objects.exists()


def test_same_names_get_distinct_slugs():
    user = make_user("erin@example.test")
    first = services.organization_create(actor=Actor.for_user(user), name="Same")
    second = services.organization_create(actor=Actor.for_user(user), name="Same")
    assert first.slug == "same" and second.slug == "same-2"


def test_invitation_is_emailed_and_accepted_once(tenants, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = _invite(tenants, "frank@acme.test", Role.ADMIN)
    assert mail.outbox[-1].to == ["frank@acme.test"]
    assert "Acme" in mail.outbox[-1].subject
    token = _token_from_outbox()
    assert invitation.token_hash != token  # only a hash is stored
    frank = make_user("frank@acme.test")
    membership = services.invitation_accept(actor=Actor.for_user(frank), token=token)
    assert (membership.organization, membership.role) == (tenants.acme, Role.ADMIN)
    with pytest.raises(InvitationInvalid, match="already been used"):
        services.invitation_accept(actor=Actor.for_user(frank), token=token)


def test_an_invitation_to_an_existing_member_is_refused(tenants):
    with pytest.raises(AlreadyMember, match="already a member"):
        _invite(tenants, "ALICE@acme.test")
    assert not Invitation.objects.exists()


def test_an_expired_invitation_is_refused(tenants, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = _invite(tenants, "gina@acme.test")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    gina = make_user("gina@acme.test")
    with pytest.raises(InvitationInvalid, match="expired"):
        services.invitation_accept(actor=Actor.for_user(gina), token=_token_from_outbox())
    assert not Membership.objects.filter(user=gina).exists()


def test_an_invitation_cannot_be_accepted_by_another_address(tenants, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _invite(tenants, "hank@acme.test")
    with pytest.raises(InvitationInvalid, match="sent to hank@acme.test"):
        services.invitation_accept(actor=Actor.for_user(tenants.bob), token=_token_from_outbox())


def test_a_new_invitation_replaces_the_pending_one(tenants, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _invite(tenants, "ivy@acme.test")
    old_token = _token_from_outbox()
    with django_capture_on_commit_callbacks(execute=True):
        _invite(tenants, "ivy@acme.test")
    ivy = make_user("ivy@acme.test")
    with pytest.raises(InvitationInvalid, match="not valid"):
        services.invitation_accept(actor=Actor.for_user(ivy), token=old_token)
    services.invitation_accept(actor=Actor.for_user(ivy), token=_token_from_outbox())


def test_the_last_owner_cannot_leave_or_be_demoted(tenants):
    membership = tenants.alice_membership
    with pytest.raises(LastOwner):
        services.membership_remove(actor=Actor.for_user(tenants.alice), membership=membership, member_id=membership.pk)
    with pytest.raises(LastOwner):
        services.membership_change_role(
            actor=Actor.for_user(tenants.alice), membership=membership, member_id=membership.pk, role=Role.MEMBER
        )


def test_a_member_cannot_invite(tenants):
    member = make_user("jo@acme.test")
    membership = Membership.objects.create(organization=tenants.acme, user=member, role=Role.MEMBER)
    from mailherd.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.invitation_create(actor=Actor.for_user(member), membership=membership, email="x@y.test", role="member")


def test_members_of_other_organizations_cannot_be_touched(tenants):
    bob_membership = Membership.objects.get(user=tenants.bob)
    from mailherd.core.errors import NotFound

    with pytest.raises(NotFound):
        services.membership_remove(
            actor=Actor.for_user(tenants.alice), membership=tenants.alice_membership, member_id=bob_membership.pk
        )
    assert Membership.objects.filter(pk=bob_membership.pk).exists()


def test_a_members_api_tokens_stop_when_they_lose_the_role_or_leave(tenants, client):
    from mailherd.api.services import api_token_create

    plan = tenants.acme.plan
    plan.features = sorted({*plan.features, "api"})
    plan.save(update_fields=["features"])
    dana = make_user("dana@acme.test")
    eli = make_user("eli@acme.test")
    dana_m = Membership.objects.create(organization=tenants.acme, user=dana, role=Role.ADMIN)
    eli_m = Membership.objects.create(organization=tenants.acme, user=eli, role=Role.ADMIN)
    _t, dana_token = api_token_create(actor=Actor.for_user(dana), organization=tenants.acme, name="d")
    _t, eli_token = api_token_create(actor=Actor.for_user(eli), organization=tenants.acme, name="e")
    _t, alice_token = api_token_create(actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="a")

    def status(token):
        return client.get("/api/v1/domains", HTTP_AUTHORIZATION=f"Bearer {token}").status_code

    assert {status(dana_token), status(eli_token)} == {200}
    alice = Actor.for_user(tenants.alice)
    services.membership_change_role(
        actor=alice, membership=tenants.alice_membership, member_id=dana_m.pk, role=Role.MAILBOX_USER
    )
    services.membership_remove(actor=alice, membership=tenants.alice_membership, member_id=eli_m.pk)
    assert status(dana_token) == 401 and status(eli_token) == 401
    assert status(alice_token) == 200  # the owner's own token is untouched
