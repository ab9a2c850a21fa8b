"""Manual billing (no Stripe) end to end, with the organization's mail on the Mailcow simulator.

A visitor picks Business on the landing page → signs up → creates the
organization: a plan request waits for the operator → the operator approves it
in the back office (Business, with its 14-day trial) → records an invoice →
the invoice passes its due date: the same dunning as a failed card (emails,
then suspension after the grace period) → mailboxes refuse logins on Mailcow
(`active=2`) → the operator records the payment → mail restored (`active=1`).
"""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from mailherd.billing.dunning import dunning_sweep
from mailherd.billing.manual import manual_overdue_sweep, plan_request_create
from mailherd.billing.models import Invoice, PlanRequest, Subscription
from mailherd.core.actors import Actor
from mailherd.core.audit import AuditEvent
from mailherd.hosting.services import mailbox_create
from mailherd.tenancy.models import Organization
from tests.billing.conftest import owner_membership
from tests.billing.test_dunning_mail import _active, _drain
from tests.conftest import PASSWORD
from tests.hosting.conftest import mail_server, sim, verified_domain  # noqa: F401  (fixtures)
from tests.operator.fixtures import sign_in_with_two_factor, with_two_factor

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def manual_mode(settings):
    settings.STRIPE_SECRET_KEY = None
    return settings


def _sign_up_with_plan(client, plan_slug: str, email: str, org_name: str):
    response = client.get(f"/start/{plan_slug}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/signup/")
    client.post("/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD})
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[-1].body).group(0)
    client.post("/" + link.split("://", 1)[1].split("/", 1)[1])
    return client.post("/portal/new-organization/", {"name": org_name}, follow=True)


def test_the_landing_page_plan_buttons_carry_the_plan_into_sign_up(client, manual_mode):
    page = client.get("/").content.decode()
    assert 'href="/start/business/"' in page


def test_with_stripe_the_chosen_plan_leads_to_the_card_page_after_sign_up(client, stripe_settings):
    response = _sign_up_with_plan(client, "business", "paying@startup.test", "Paying Ltd")
    assert response.redirect_chain[0][0] == "/o/paying-ltd/billing/card/?plan=business"


def test_sign_up_with_a_plan_approval_overdue_suspends_and_payment_restores_mail(
    client,
    manual_mode,
    mail_server,  # noqa: F811
    operator_user,
):
    # a visitor picks Business on the landing page and signs up
    response = _sign_up_with_plan(client, "business", "owner@startup.test", "Startup Ltd")
    org = Organization.objects.get(slug="startup-ltd")
    assert response.redirect_chain[-1][0] == f"/o/{org.slug}/"
    request = PlanRequest.objects.get(organization=org)
    assert (request.plan.slug, request.status) == ("business", "pending")
    assert org.plan.slug == "starter"  # until the operator approves
    page = client.get(f"/o/{org.slug}/billing/").content.decode()
    assert "waiting for approval" in page and "Business" in page

    # the organization's mail is live on the simulator
    verified_domain(org, "startup.test")
    mailbox_create(actor=Actor.system(), organization=org, address="team@startup.test", quota_mb=10)
    _drain()
    assert _active(mail_server, "team@startup.test") == 1

    # the operator approves in the back office: Business, with its trial
    ops_client = client.__class__()
    sign_in_with_two_factor(ops_client, with_two_factor(operator_user))
    listing = ops_client.get("/operator/billing/planrequest/").content.decode()
    assert "Startup Ltd" in listing
    assert "1</strong> plan request waiting" in ops_client.get("/operator/").content.decode()
    ops_client.post(
        "/operator/billing/planrequest/",
        {"action": "approve_selected", "_selected_action": [request.pk]},
    )
    org.refresh_from_db()
    row = Subscription.objects.get(organization=org)
    assert org.plan.slug == "business"
    assert (row.manual, row.status, row.trial_used) == (True, "trialing", True)
    approved = mail.outbox[-1]
    assert approved.to == ["owner@startup.test"] and "Business" in approved.subject
    assert row.trial_end.date() == (timezone.now() + timedelta(days=14)).date()

    # the operator records an invoice, due in 14 days
    due = timezone.now() + timedelta(days=14)
    response = ops_client.post(
        f"/operator/billing/invoice/manual/{org.pk}/",
        {
            "amount": "49.00",
            "description": "Business, first month",
            "due_on": due.strftime("%Y-%m-%d"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    invoice = Invoice.objects.get(organization=org)
    assert (invoice.status, invoice.amount_due, invoice.manual) == ("open", 4900, True)
    sent = mail.outbox[-1]
    assert invoice.number in sent.subject and "49.00 USD" in sent.subject
    page = client.get(f"/o/{org.slug}/billing/invoices/").content.decode()
    assert invoice.number in page and "49.00" in page

    # the due date passes: the dunning episode starts, as after a failed card payment
    overdue = invoice.due_at + timedelta(minutes=1)
    mail.outbox.clear()
    assert manual_overdue_sweep(now=overdue) == 1
    row.refresh_from_db()
    assert row.status == "past_due" and row.in_dunning
    assert row.next_dunning_at is not None
    [overdue_email] = [m for m in mail.outbox if "owner@startup.test" in m.to]
    assert "past its due date" in overdue_email.body and "card" not in overdue_email.body

    # the grace period (7 days) later: suspended, mailboxes refuse logins on Mailcow; the
    # reminders on the way point at the invoice, never at a card there is none of
    mail.outbox.clear()
    for day in (3, 5, 7):
        dunning_sweep(now=overdue + timedelta(days=day))
    notices = [m for m in mail.outbox if "owner@startup.test" in m.to]
    assert len(notices) >= 2
    for notice in notices:
        html = notice.alternatives[0][0] if notice.alternatives else ""
        assert "card" not in notice.body and "card" not in html, notice.subject
        assert "retry" not in notice.body, notice.subject
        assert f"/o/{org.slug}/billing/" in notice.body, notice.subject
    org.refresh_from_db()
    assert (org.status, org.suspension_stage) == ("suspended", "login_disabled")
    _drain()
    assert _active(mail_server, "team@startup.test") == 2
    banner = client.get(f"/o/{org.slug}/").content.decode()
    assert "cannot sign in" in banner and "still received" in banner

    # the operator records the payment: mail is restored
    response = ops_client.post(
        f"/operator/billing/invoice/{invoice.pk}/payment/", {"reference": "bank transfer 42"}
    )
    assert response.status_code == 302
    invoice.refresh_from_db()
    org.refresh_from_db()
    row.refresh_from_db()
    assert invoice.status == "paid" and invoice.payment_reference == "bank transfer 42"
    assert (org.status, org.suspension_stage) == ("active", "none")
    assert not row.in_dunning and not row.suspended_by_billing
    _drain()
    assert _active(mail_server, "team@startup.test") == 1
    actions = set(AuditEvent.objects.filter(organization=org).values_list("action", flat=True))
    assert {
        "billing.plan_request",
        "billing.plan_request_approve",
        "billing.manual_invoice_create",
        "billing.dunning_start",
        "organization.suspend",
        "billing.manual_payment_record",
        "organization.restore",
    } <= actions


def test_a_customer_changes_plan_and_the_trial_is_given_once(tenants, manual_mode, operator_user):
    from mailherd.billing.manual import plan_request_approve

    operator = Actor.for_user(operator_user)
    membership = owner_membership(tenants.acme)
    actor = Actor.for_user(membership.user)
    first = plan_request_create(actor=actor, membership=membership, plan_slug="business")
    assert plan_request_approve(actor=operator, request_id=first.pk).status == "trialing"
    second = plan_request_create(actor=actor, membership=membership, plan_slug="enterprise")
    assert plan_request_approve(actor=operator, request_id=second.pk).status == "active"
    third = plan_request_create(actor=actor, membership=membership, plan_slug="business")
    row = plan_request_approve(actor=operator, request_id=third.pk)
    assert row.status == "active"  # no second trial
    tenants.acme.refresh_from_db()
    assert tenants.acme.plan.slug == "business"


def test_only_the_operator_approves_and_outsiders_cannot_request(tenants, manual_mode, client):
    from mailherd.billing.manual import plan_request_approve
    from mailherd.core.errors import PermissionDenied

    membership = owner_membership(tenants.acme)
    actor = Actor.for_user(membership.user)
    request = plan_request_create(actor=actor, membership=membership, plan_slug="business")
    with pytest.raises(PermissionDenied):
        plan_request_approve(actor=actor, request_id=request.pk)
    client.force_login(membership.user)
    assert client.post(f"/o/{tenants.globex.slug}/billing/plans/business/").status_code == 404
    assert not PlanRequest.objects.filter(organization=tenants.globex).exists()


def test_the_billing_page_shows_the_operators_contact(alice_client, tenants, manual_mode):
    from mailherd.operator.models import Branding
    from mailherd.operator.selectors import branding_cache_clear

    branding = Branding.objects.get_or_create(pk=1)[0]
    branding.support_email = "billing@provider.test"
    branding.save()
    branding_cache_clear()
    page = alice_client.get(f"/o/{tenants.acme.slug}/billing/").content.decode()
    assert "billing@provider.test" in page
    plans = alice_client.get(f"/o/{tenants.acme.slug}/billing/plans/").content.decode()
    assert "Ask for Business" in plans
    alice_client.post(f"/o/{tenants.acme.slug}/billing/plans/business/")
    assert PlanRequest.objects.get(organization=tenants.acme).plan.slug == "business"
