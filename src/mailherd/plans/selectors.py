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


LIMIT_LABELS = {
    "domains": "domains",
    "mailboxes": "mailboxes",
    "aliases": "aliases",
    "storage_mb": "MiB of mailbox storage",
}


def plan_fit_problems(*, organization, plan: Plan) -> list[str]:
    """Return what the organization must remove before it fits in `plan` (empty: it fits).

    The one rule behind every plan change: billing's downgrades and the back office's.

    >>> plan_fit_problems(organization=acme, plan=tiny)   # doctest: +SKIP
    ['Remove 2 domains (you use 5; Tiny allows 3).']
    """
    problems = []
    for name, usage in organization_usage(organization=organization).items():
        limit = plan.limit_for(name)
        if usage.used > limit:
            problems.append(
                f"Remove {usage.used - limit} {LIMIT_LABELS.get(name, name)}"
                f" (you use {usage.used}; {plan.name} allows {limit})."
            )
    return problems
