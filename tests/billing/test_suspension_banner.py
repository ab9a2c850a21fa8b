"""The portal's suspension banner: one message per stage, with its dates; operator suspensions
say to contact the provider (not "pay the invoice")."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailherd.billing.models import Subscription
from mailherd.core.actors import Actor
from mailherd.hosting.services import organization_mail_suspend
from mailherd.hosting.services.suspension import (
    organization_mail_deactivate,
    organization_mail_delete,
)
from mailherd.operator.models import Branding
from mailherd.operator.selectors import branding_cache_clear

pytestmark = pytest.mark.django_db

SINCE = timezone.now() - timedelta(days=40)


def _banner(client, org) -> str:
    page = client.get(f"/o/{org.slug}/").content.decode()
    start = page.index('class="alert alert-error suspension-banner"')
    return page[start : page.index("</div>", start)]


def _by_billing(org):
    Subscription.objects.update_or_create(
        organization=org, defaults={"suspended_by_billing": True, "status": "past_due"}
    )


def test_stage_one_by_billing_says_mail_is_received_and_when_it_will_be_refused(
    alice_client, tenants
):
    org = tenants.acme
    _by_billing(org)
    organization_mail_suspend(actor=Actor.system(), organization_id=org.pk, now=SINCE)
    banner = _banner(alice_client, org)
    assert 'data-stage="login_disabled"' in banner
    assert "still received" in banner and "Pay now" in banner
    assert f"{SINCE + timedelta(days=30):%b} {(SINCE + timedelta(days=30)).day}, " in banner
    assert "new mail refused" in banner


def test_stage_two_says_mail_is_refused_and_when_it_will_be_deleted(alice_client, tenants):
    org = tenants.acme
    _by_billing(org)
    organization_mail_deactivate(actor=Actor.system(), organization_id=org.pk, now=SINCE)
    banner = _banner(alice_client, org)
    assert "still received" not in banner
    assert "refused" in banner and "deleted on" in banner
    deletion = SINCE + timedelta(days=90)
    assert f"{deletion:%b} {deletion.day}, {deletion.year}" in banner


def test_near_the_deletion_the_banner_says_scheduled_for_deletion(alice_client, tenants):
    org = tenants.acme
    _by_billing(org)
    since = timezone.now() - timedelta(days=80)  # deletion in 10 days: within the 14-day warning
    organization_mail_deactivate(actor=Actor.system(), organization_id=org.pk, now=since)
    banner = _banner(alice_client, org)
    assert 'data-stage="deletion_scheduled"' in banner and "Scheduled for deletion" in banner


def test_after_the_deletion_the_banner_says_the_data_is_gone(alice_client, tenants):
    org = tenants.acme
    _by_billing(org)
    organization_mail_deactivate(actor=Actor.system(), organization_id=org.pk, now=SINCE)
    organization_mail_delete(actor=Actor.system(), organization_id=org.pk)
    banner = _banner(alice_client, org)
    assert 'data-stage="deleted"' in banner and "removed" in banner
    assert "still received" not in banner


def test_an_operator_suspension_says_contact_the_provider_with_its_contact(alice_client, tenants):
    branding = Branding.objects.get_or_create(pk=1)[0]
    branding.support_email = "help@provider.test"
    branding.save()
    branding_cache_clear()
    org = tenants.acme
    organization_mail_suspend(actor=Actor.system(), organization_id=org.pk, reason="abuse")
    banner = _banner(alice_client, org)
    assert "Your provider has suspended" in banner and "help@provider.test" in banner
    assert "invoice" not in banner and "Pay now" not in banner
