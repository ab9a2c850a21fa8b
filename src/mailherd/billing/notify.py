"""Billing emails to an organization's billing contacts, always after commit."""

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse

from mailherd.billing import conf


def notify_after_commit(*, organization, template: str, context: dict | None = None) -> None:
    organization_id = organization.pk
    extra = dict(context or {})
    transaction.on_commit(
        lambda: billing_email_send(
            organization_id=organization_id, template=template, context=extra
        )
    )


def billing_email_send(*, organization_id: int, template: str, context: dict) -> int:
    """Render emails/<template>_* for every owner and billing member; return how many were sent."""
    from mailherd.billing.models import Invoice, Subscription
    from mailherd.billing.selectors import billing_contacts
    from mailherd.notifications.services import email_send
    from mailherd.tenancy.models import Organization

    organization = Organization.objects.select_related("plan").get(pk=organization_id)
    subscription = Subscription.objects.filter(organization=organization).first()
    open_invoices = Invoice.objects.filter(organization=organization, status=Invoice.Status.OPEN)
    amount_due = open_invoices.aggregate(total=Sum("amount_due"))["total"] or 0
    suspend_on = None
    if subscription is not None and subscription.dunning_started_at:
        suspend_on = subscription.dunning_started_at + conf.grace_period()
    full_context = {
        "organization": organization,
        "subscription": subscription,
        "amount_due": f"{amount_due / 100:.2f}",
        "currency": (
            open_invoices.first().currency if open_invoices else organization.plan.currency
        ).upper(),
        "suspend_on": suspend_on,
        "billing_url": settings.SITE_URL + reverse("billing:overview", args=[organization.slug]),
        # Manual billing has no card: its links lead to the invoices and the provider's contact.
        "card_url": settings.SITE_URL
        + reverse(
            "billing:overview"
            if subscription is not None and subscription.manual
            else "billing:card",
            args=[organization.slug],
        ),
        **context,
    }
    sent = 0
    for email in billing_contacts(organization=organization):
        email_send(to=email, template=template, context=full_context, organization=organization)
        sent += 1
    return sent
