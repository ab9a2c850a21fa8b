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
