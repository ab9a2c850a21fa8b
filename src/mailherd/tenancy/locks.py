"""Row locks, always taken in the same order: organization, then domain, then mailbox.

Never call Mailcow or Stripe while holding one.
"""

from mailherd.tenancy.models import Organization


def organization_lock(*, organization_id: int) -> Organization:
    """Lock the organization row for the rest of the transaction and return it fresh."""
    return (
        Organization.objects.select_for_update(no_key=True)
        .select_related("plan")
        .get(pk=organization_id)
    )
