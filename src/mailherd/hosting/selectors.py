"""Reads of hosted objects (domains, mailboxes, aliases)."""

from django.db.models import CharField, Count, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from mailherd.hosting.models import Alias, Domain, Mailbox


def hosting_usage_counts(
    *, organization, names=("domains", "mailboxes", "aliases", "storage_mb")
) -> dict[str, int]:
    """Count only what is asked: this runs under the organization lock, on every create."""
    counts = {}
    if "domains" in names:
        counts["domains"] = Domain.objects.filter(organization=organization).count()
    if "mailboxes" in names or "storage_mb" in names:
        # Platform addresses are the operator's gift to members: never counted against the plan.
        totals = Mailbox.objects.filter(organization=organization, is_system=False).aggregate(
            count=Count("id"), storage=Sum("quota_mb")
        )
        counts["mailboxes"], counts["storage_mb"] = totals["count"], totals["storage"] or 0
    if "aliases" in names:
        counts["aliases"] = Alias.objects.filter(organization=organization).count()
    return counts


def domain_list(*, organization, search: str = "", status: str = ""):
    queryset = (
        Domain.objects.filter(organization=organization)
        .select_related("mail_server__default_relay", "organization__plan", "relay")
        .order_by("name")
    )
    if search:
        queryset = queryset.filter(name__icontains=search.strip().lower())
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def domain_list_with_counts(*, organization):
    """Domains with `mailbox_count` and `alias_count`, in one query (subqueries: no join fan-out)."""

    def per_domain(model):
        counted = (
            model.objects.filter(domain=OuterRef("pk"))
            .order_by()
            .values("domain")
            .annotate(n=Count("id"))
            .values("n")
        )
        return Coalesce(Subquery(counted, output_field=IntegerField()), 0)

    return domain_list(organization=organization).annotate(
        mailbox_count=per_domain(Mailbox), alias_count=per_domain(Alias)
    )


def domain_get(*, organization, name: str) -> Domain | None:
    from mailherd.core.errors import InvalidAddress
    from mailherd.hosting.validation import clean_domain_name

    try:
        ascii_name = clean_domain_name(name)
    except InvalidAddress:
        return None
    return (
        Domain.objects.filter(organization=organization, name=ascii_name)
        .select_related("mail_server__default_relay", "organization__plan", "relay")
        .first()
    )


def address_in_use(address: str) -> str | None:
    """Return "mailbox" or "alias" if the address is taken, in one query."""
    kind = Value("", output_field=CharField())
    taken = (
        Mailbox.objects.filter(address=address)
        .order_by()
        .annotate(kind=Value("mailbox", output_field=CharField()))
        .values_list("kind", flat=True)
        .union(
            Alias.objects.filter(address=address)
            .order_by()
            .annotate(kind=Value("alias", output_field=kind.output_field))
            .values_list("kind", flat=True)
        )
    )
    rows = list(taken)
    return rows[0] if rows else None


def mailbox_list(*, organization, domain: str | None = None, search: str = ""):
    queryset = (
        Mailbox.objects.filter(organization=organization)
        .select_related("domain", "user")
        .order_by("address")
    )
    if domain:
        queryset = queryset.filter(domain__name=domain.strip().lower())
    if search:
        queryset = queryset.filter(
            Q(address__icontains=search.strip()) | Q(name__icontains=search.strip())
        )
    return queryset


def mailbox_get(*, organization, address: str) -> Mailbox | None:
    return (
        Mailbox.objects.filter(organization=organization, address=(address or "").strip().lower())
        .select_related("domain__mail_server", "user")
        .first()
    )


def alias_list(*, organization, domain: str | None = None, search: str = ""):
    queryset = (
        Alias.objects.filter(organization=organization).select_related("domain").order_by("address")
    )
    if domain:
        queryset = queryset.filter(domain__name=domain.strip().lower())
    if search:
        queryset = queryset.filter(address__icontains=search.strip())
    return queryset


def alias_get(*, organization, address: str) -> Alias | None:
    return Alias.objects.filter(
        organization=organization, address=(address or "").strip().lower()
    ).first()


def mailbox_status(mailbox: Mailbox, *, organization) -> str:
    """The status shown to customers and in the API."""
    if organization.is_suspended:
        return "suspended"
    if mailbox.sync_status != "active":
        return mailbox.sync_status
    return "active" if mailbox.enabled else "disabled"


def sync_job_list(*, organization, mailbox: str | None = None):
    from mailherd.hosting.models import SyncJob

    jobs = SyncJob.objects.filter(organization=organization).select_related("mailbox__domain__mail_server")
    if mailbox:
        jobs = jobs.filter(mailbox__address=mailbox.strip().lower())
    return jobs


def sync_job_get(*, organization, job_id):
    try:
        job_id = int(job_id)
    except (TypeError, ValueError):
        return None
    return sync_job_list(organization=organization).filter(pk=job_id).first()
