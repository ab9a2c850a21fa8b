"""Naming the platform domain: operator only, a verified domain used for nothing else, audited,
chosen once; from the back office and the command line."""

import pytest
from django.core.management import call_command

from mailherd.core.actors import Actor
from mailherd.core.errors import NotFound, PermissionDenied, ValidationFailed
from mailherd.core.models import AuditEvent
from mailherd.hosting.models import Domain, Mailbox
from mailherd.hosting.services import domain_add, mailbox_create
from mailherd.hosting.services.platform import platform_domain_get, platform_domain_set
from tests.conftest import make_org, make_user
from tests.hosting.conftest import verified_domain
from tests.operator.fixtures import sign_in_with_two_factor, with_two_factor

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_org():
    return make_org(make_user("postmaster@operator.test"), "Operator")


def test_the_operator_names_it_in_the_back_office_and_it_is_audited(client, operator_user, operator_org):
    domain = verified_domain(operator_org, "members.test")
    ops = sign_in_with_two_factor(client, with_two_factor(operator_user))
    response = ops.post(
        "/operator/hosting/domain/", {"action": "make_platform_domain", "_selected_action": [domain.pk]}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == ["members.test is the platform domain."]
    assert platform_domain_get() == domain
    event = AuditEvent.objects.get(action="platform_domain.set")
    assert event.actor_label == operator_user.email and event.data["name"] == "members.test"


def test_only_the_operator_and_only_a_verified_unused_domain(tenants, operator_org):
    with pytest.raises(PermissionDenied):
        platform_domain_set(actor=Actor.for_user(tenants.alice), name="members.test")
    domain_add(actor=Actor.system(), organization=operator_org, name="unverified.test")
    with pytest.raises(NotFound, match="not a verified domain"):
        platform_domain_set(actor=Actor.system(), name="unverified.test")
    verified_domain(tenants.acme, "acme.test")
    mailbox_create(actor=Actor.system(), organization=tenants.acme, address="team@acme.test", quota_mb=10)
    with pytest.raises(ValidationFailed, match="already has mailboxes"):
        platform_domain_set(actor=Actor.system(), name="acme.test")
    assert platform_domain_get() is None


def test_chosen_once_platform_addresses_exist(tenants, operator_org, capsys):
    verified_domain(operator_org, "members.test")
    verified_domain(operator_org, "other.test")
    call_command("platform_domain", "members.test")
    assert capsys.readouterr().out.strip() == "members.test"
    call_command("platform_domain", "other.test")  # no address yet: it may still change
    assert platform_domain_get().name == "other.test"
    domain = Domain.objects.get(name="other.test")
    Mailbox.objects.create(organization=tenants.acme, domain=domain, local_part="alice",
                           address="alice@other.test", quota_mb=1, user=tenants.alice, is_system=True)
    with pytest.raises(ValidationFailed, match="stays the platform domain"):
        platform_domain_set(actor=Actor.system(), name="members.test")


def test_the_platform_domain_cannot_be_removed(operator_org):
    from mailherd.hosting.services import domain_delete

    verified_domain(operator_org, "members.test")
    platform_domain_set(actor=Actor.system(), name="members.test")
    with pytest.raises(ValidationFailed, match="is the platform domain"):
        domain_delete(actor=Actor.system(), organization=operator_org, name="members.test", confirm="members.test")
    assert Domain.objects.filter(name="members.test").exists()
