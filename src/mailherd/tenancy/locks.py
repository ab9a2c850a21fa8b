"""Row locks, always taken in the same order: organization, then domain, then mailbox.

Never call Mailcow or Stripe while holding one.
"""

from mailherd.tenancy.models import Organization


def organization_lock(*, organization_id: int) -> Organization:
    """Lock the organization row for the rest of the transaction and return it fresh.

    Only the organization's row (`of=self`): its plan is read along, not locked, or every
    organization on the same plan would wait for each other.
    """
    return (
        Organization.objects.select_for_update(no_key=True, of=("self",))
        .select_related("plan")
        .get(pk=organization_id)
    )


def organization_row_lock(*, organization_id: int, model, label: str, address: str):
    """Lock the organization, then its object at `address` (in that order); NotFound if it has none.

    Returns (organization, object).
    """
    from mailherd.core.errors import NotFound

    organization = organization_lock(organization_id=organization_id)
    row = (
        model.objects.select_for_update()
        .filter(organization=organization, address=(address or "").strip().lower())
        .first()
    )
    if row is None:
        raise NotFound(f"No {label} {address} in this organization.")
    return organization, row
