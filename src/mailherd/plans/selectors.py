"""Reads about plans and usage against them."""

from dataclasses import dataclass

from django.apps import apps

from mailherd.plans.models import Plan

LIMIT_NAMES = ("domains", "mailboxes", "aliases", "storage_mb")


@dataclass(frozen=True)
class LimitUsage:
    name: str
    used: int
    limit: int

    @property
    def percent(self) -> int:
        if self.limit <= 0:
            return 100 if self.used else 0
        return min(100, round(100 * self.used / self.limit))

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)


def plan_list_public():
    return Plan.objects.filter(is_public=True, is_retired=False)


def organization_usage_counts(*, organization, names=LIMIT_NAMES) -> dict[str, int]:
    """Return what the organization uses of each limited resource in `names`.

    Counts come from the hosting app once it is installed.
    """
    counts = dict.fromkeys(names, 0)
    if apps.is_installed("mailherd.hosting"):
        from mailherd.hosting.selectors import hosting_usage_counts

        counts.update(hosting_usage_counts(organization=organization, names=names))
    return counts


def organization_usage(*, organization) -> dict[str, LimitUsage]:
    plan = organization.plan
    counts = organization_usage_counts(organization=organization)
    return {name: LimitUsage(name, counts[name], plan.limit_for(name)) for name in LIMIT_NAMES}


LIMIT_LABELS = {  # (one, many)
    "domains": ("domain", "domains"),
    "mailboxes": ("mailbox", "mailboxes"),
    "aliases": ("alias", "aliases"),
}


def _amount(name: str, count: int) -> str:
    from mailherd.core.units import mib_human

    if name == "storage_mb":
        return f"{mib_human(count)} of mailbox storage"
    one, many = LIMIT_LABELS.get(name, (name, name))
    return f"{count} {one if count == 1 else many}"


def plan_fit_problems(*, organization, plan: Plan) -> list[str]:
    """Return what the organization must remove before it fits in `plan` (empty: it fits).

    The one rule behind every plan change: billing's downgrades and the back office's.

    >>> plan_fit_problems(organization=acme, plan=tiny)   # doctest: +SKIP
    ['Remove 2 domains (you use 5; Tiny allows 3).']
    """
    from mailherd.core.units import mib_human

    problems = []
    for name, usage in organization_usage(organization=organization).items():
        limit = plan.limit_for(name)
        if usage.used > limit:
            shown = mib_human if name == "storage_mb" else str
            problems.append(
                f"Remove {_amount(name, usage.used - limit)}"
                f" (you use {shown(usage.used)}; {plan.name} allows {shown(limit)})."
            )
    return problems
