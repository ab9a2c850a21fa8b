"""Plan limits, checked under the organization lock in the transaction that writes."""

from mailherd.core.errors import OrganizationSuspended, PlanLimitExceeded
from mailherd.plans.selectors import organization_usage_counts
from mailherd.tenancy.locks import organization_lock


def check_limit(
    organization, limit_name: str, *, requested: int = 1, counts: dict | None = None
) -> dict:
    """Raise PlanLimitExceeded if `requested` more of `limit_name` would exceed the plan.

    The caller must hold the organization lock (tenancy.locks.organization_lock).
    Returns the usage counts it read, for callers checking several limits.
    """
    if counts is None:
        counts = organization_usage_counts(organization=organization, names=(limit_name,))
    plan = organization.plan
    limit = plan.limit_for(limit_name)
    used = counts[limit_name]
    if used + requested > limit:
        raise PlanLimitExceeded(
            limit_name=limit_name, limit=limit, used=used, requested=requested, plan=plan.name
        )
    return counts


def writable_organization_lock(*, organization_id: int):
    """Lock the organization for a change to its mail; refused while it is suspended (read-only)."""
    organization = organization_lock(organization_id=organization_id)
    ensure_writable(organization)
    return organization


def ensure_writable(organization) -> None:
    if organization.is_suspended:
        raise OrganizationSuspended(
            "This organization is suspended: its mail settings are read-only until the open invoice is paid."
        )
