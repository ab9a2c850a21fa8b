"""Reads for the DNS app. Organization-scoped where a customer can reach them."""

from dataclasses import dataclass

from django.db.models import F
from django.db.models.functions import Mod

from mailherd.core.errors import NotFound
from mailherd.dns.models import DmarcStage, DnsCheck, DnsProviderAccount, DnsRegression, DnsSettings
from mailherd.dns.records import Record
from mailherd.hosting.models import Domain


def dns_settings_for(*, domain) -> DnsSettings:
    """The domain's DNS settings; an unsaved default when the customer never changed any.

    Read along with the domain when it was fetched with `with_record_inputs`."""
    if hasattr(domain, "open_dkim_rotations"):  # fetched by with_record_inputs, just now
        return domain._state.fields_cache.get("dns_settings") or DnsSettings(domain=domain)
    try:
        return DnsSettings.objects.select_related("provider_account").get(domain_id=domain.pk)
    except DnsSettings.DoesNotExist:
        return DnsSettings(domain=domain)


def with_record_inputs(domains):
    """Domains with what their expected records are built from read along (DNS settings, an
    open DKIM rotation, the relay): the same queries for one domain or ten thousand."""
    from django.db.models import Prefetch

    from mailherd.hosting.models import DkimRotation

    return domains.select_related(
        "dns_settings__provider_account", "relay", "mail_server__default_relay"
    ).prefetch_related(
        Prefetch(
            "dkim_rotations",
            queryset=DkimRotation.objects.filter(status__in=DkimRotation.OPEN),
            to_attr="open_dkim_rotations",
        )
    )


def domain_get(*, organization, name: str) -> Domain:
    """The organization's domain by name (any spelling); NotFound otherwise."""
    from mailherd.hosting.selectors import domain_get as hosting_domain_get

    domain = hosting_domain_get(organization=organization, name=name)
    if domain is None:
        raise NotFound(f"No domain {name} in this organization.")
    return domain


def dns_check_latest(*, domain) -> DnsCheck | None:
    return DnsCheck.objects.filter(domain=domain).order_by("-checked_at", "-id").first()


# How many past checks to look through for a record's last conclusive result.
CONCLUSIVE_LOOKBACK = 50


def last_conclusive_results(*, domain) -> dict[str, dict]:
    """Per record key, its newest result that was ok, missing or wrong, with `checked_at`.

    "Could not check" says nothing about the record, so it is skipped: what was
    known before it still holds.
    """
    from mailherd.dns.checks import UNKNOWN

    checks = DnsCheck.objects.filter(domain=domain).order_by("-checked_at", "-id")
    found: dict[str, dict] = {}
    for check in checks.only("results", "checked_at")[:CONCLUSIVE_LOOKBACK]:
        complete = True
        for result in check.results:
            key = result.get("key")
            if key in found:
                continue
            if result.get("status") == UNKNOWN:
                complete = False
                continue
            found[key] = {**result, "checked_at": check.checked_at}
        if complete and found:
            break
    return found


def record_statuses(*, domain, records: list[Record]) -> list[dict]:
    """Each record with its last known status (ok, missing, wrong), what was found and when.

    `unchecked` (with `checked_at` null) until a check gave a conclusive answer
    for the value expected now; a result for another value (the DMARC policy
    moved on, the DKIM key was rotated) is not this record's status.
    """
    known = last_conclusive_results(domain=domain)
    rows = []
    for record in records:
        result = known.get(record.key)
        if (
            result
            and result.get("name") == record.name
            and result.get("expected") == record.content
        ):
            rows.append(
                {
                    "status": result["status"],
                    "found": result.get("found") or [],
                    "detail": result.get("detail", ""),
                    "checked_at": result["checked_at"],
                }
            )
        else:
            rows.append({"status": "unchecked", "found": [], "detail": "", "checked_at": None})
    return rows


def dns_check_history(*, domain, limit: int = 20) -> list[DnsCheck]:
    return list(DnsCheck.objects.filter(domain=domain).order_by("-checked_at", "-id")[:limit])


def dns_regression_list(*, organization, open_only: bool = True, domain=None):
    qs = DnsRegression.objects.filter(organization=organization).select_related("domain")
    if open_only:
        qs = qs.filter(resolved_at__isnull=True)
    if domain is not None:
        qs = qs.filter(domain=domain)
    return qs.order_by("-detected_at")


def dmarc_stage_list(*, domain, pending_only: bool = True):
    qs = DmarcStage.objects.filter(domain=domain)
    return qs.filter(applied_at__isnull=True) if pending_only else qs


def provider_account_list(*, organization):
    return DnsProviderAccount.objects.filter(organization=organization)


def domains_due_for_check(*, period: int, slot: int):
    """Verified domains with a server whose turn it is: id % period == slot (spreads the work)."""
    return with_record_inputs(
        Domain.objects.filter(verified_at__isnull=False, mail_server__isnull=False)
        .annotate(_slot=Mod(F("id"), period))
        .filter(_slot=slot)
        .select_related("mail_server", "organization")
    )


@dataclass
class Row:
    """One line of the records table: the record and, if checked, its status."""

    record: Record
    status: str = "unchecked"
    found: list | None = None
    detail: str = ""

    @property
    def status_label(self) -> str:
        from mailherd.dns.checks import STATUS_LABELS

        return STATUS_LABELS.get(self.status, "Not checked yet")


def record_rows(*, records: list[Record], check: DnsCheck | None) -> list[Row]:
    """Pair each record with its latest result, when the check was made for the same value.

    A result checked against another expected value (the DMARC policy moved
    on, the DKIM key was rotated) is not shown as this record's status.
    """
    results = {}
    if check is not None:
        results = {(r.get("key"), r.get("name")): r for r in check.results}
    rows = []
    for record in records:
        result = results.get((record.key, record.name))
        if result and result.get("expected") == record.content:
            rows.append(
                Row(record, result["status"], result.get("found") or [], result.get("detail", ""))
            )
        else:
            rows.append(Row(record))
    ptr = results.get(("ptr", next((r.value for r in records if r.key == "mx"), None)))
    if ptr:
        host = ptr["name"]
        rows.append(
            Row(
                Record(
                    "PTR",
                    host,
                    host,
                    purpose="reverse DNS of the mail server (set by the operator)",
                    key="ptr",
                    zone=host,
                    optional=True,
                    ttl=0,
                ),
                ptr["status"],
                ptr.get("found") or [],
                ptr.get("detail", ""),
            )
        )
    return rows
