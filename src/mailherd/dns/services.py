"""Writes for the DNS app: checks with history and regressions, DNS choices, provider push.

DNS and provider calls never happen inside a transaction: lookups first, then
one short transaction records the outcome (see docs/dns.md).
"""

import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import Conflict, MailherdError, NotFound, ValidationFailed
from mailherd.dns import checks, providers
from mailherd.dns.checks import MISSING, OK, UNKNOWN, WRONG, RecordResult
from mailherd.dns.models import (
    DmarcPolicyChoice,
    DmarcStage,
    DnsCheck,
    DnsProviderAccount,
    DnsPush,
    DnsRegression,
    DnsSettings,
)
from mailherd.dns.records import KEY_PTR, domain_records, normalize_name
from mailherd.dns.selectors import dns_settings_for

logger = logging.getLogger(__name__)

__all__ = ["RecordResult", "domain_check"]

DEFAULT_RECHECK_PERIOD_MINUTES = 60


class DnsProviderFailed(MailherdError):
    code = "dns_provider_failed"
    http_status = 502


# --- checks ---------------------------------------------------------------------------


def domain_check(*, domain, trigger: str = DnsCheck.Trigger.API) -> list[RecordResult]:
    """Look up every record the domain needs now; record the outcome in its history.

    Return one RecordResult per record (status ok, missing, wrong or unknown,
    with what was found), plus the server's reverse DNS.
    """
    records = domain_records(domain)
    results, duration_ms = checks.check_records_sync(records)
    if domain.pk is not None:
        check = dns_check_record(
            domain=domain, results=results, duration_ms=duration_ms, trigger=trigger
        )
        if check is None:  # removed while DNS was asked
            from mailherd.core.errors import NotFound

            raise NotFound(f"No domain {domain.unicode_name} in this organization.")
    return results


def dns_recheck_slot(
    *, period: int, slot: int, concurrency: int = checks.DEFAULT_CONCURRENCY
) -> int:
    """Check every domain whose turn it is (id % period == slot), concurrently; return how many."""
    from mailherd.dns.selectors import domains_due_for_check

    domains = list(domains_due_for_check(period=period, slot=slot))
    if not domains:
        return 0
    record_sets = [domain_records(d) for d in domains]

    async def go():
        return await checks.check_many(
            record_sets, session=checks.CheckSession(concurrency=concurrency)
        )

    started = time.monotonic()
    all_results = checks.run(go())
    duration_ms = int((time.monotonic() - started) * 1000 / max(1, len(domains)))
    for domain, results in zip(domains, all_results, strict=True):
        dns_check_record(
            domain=domain,
            results=results,
            duration_ms=duration_ms,
            trigger=DnsCheck.Trigger.SCHEDULE,
        )
    return len(domains)


@transaction.atomic
def dns_check_record(
    *, domain, results: list[RecordResult], duration_ms: int, trigger: str
) -> DnsCheck | None:
    """Store a check, open regressions for records DNS lost, close those that came back.

    A regression is a record that was ok at its last conclusive check and is
    now missing or wrong with different DNS data. "Could not check" never
    opens one and is skipped when comparing: ok → could not check → removed
    is a regression. If only our expectation moved (a DMARC stage, a rotated
    DKIM key) the data is the same: that is a record to update, not a
    regression. Unverified domains keep a history (the API shows the last
    status) but have no regressions: there is no mail yet to lose.

    The domain's row is locked first: a domain removed meanwhile (the lookups take seconds)
    gets no check and None comes back; a removal that starts now waits for this one.
    """
    from mailherd.dns.selectors import last_conclusive_results
    from mailherd.hosting.models import Domain

    if not Domain.objects.select_for_update().filter(pk=domain.pk).exists():
        return None

    before = last_conclusive_results(domain=domain)
    check = DnsCheck.objects.create(
        domain=domain,
        organization_id=domain.organization_id,
        trigger=trigger,
        duration_ms=duration_ms,
        ok_count=sum(r.status == OK for r in results if not r.record.optional),
        problem_count=sum(r.status in (MISSING, WRONG) for r in results if not r.record.optional),
        unknown_count=sum(r.status == UNKNOWN for r in results if not r.record.optional),
        results=[r.as_dict() for r in results],
    )
    opened = []
    if not domain.is_verified:
        return check
    open_by_key = {
        g.record_key: g
        for g in DnsRegression.objects.filter(domain=domain, resolved_at__isnull=True)
    }
    for result in results:
        key = result.record.key
        if key == KEY_PTR:
            continue  # the operator's record, shown in the server's health, not the customer's
        if result.status == OK and key in open_by_key:
            DnsRegression.objects.filter(pk=open_by_key[key].pk).update(
                resolved_at=check.checked_at
            )
            continue
        prior = before.get(key)
        if (
            result.status in (MISSING, WRONG)
            and prior
            and prior["status"] == OK
            and sorted(prior.get("found") or []) != sorted(result.found)
            and key not in open_by_key
        ):
            opened.append(
                DnsRegression.objects.create(
                    domain=domain,
                    organization_id=domain.organization_id,
                    check_run=check,
                    record_key=key,
                    record_type=result.record.type,
                    record_name=result.record.name,
                    expected=result.record.content,
                    status=result.status,
                    found_before=prior.get("found") or [],
                    found_now=result.found,
                    detail=result.detail,
                    detected_at=check.checked_at,
                )
            )
    if opened:
        ids = [g.pk for g in opened]
        transaction.on_commit(lambda: dns_regression_notify(regression_ids=ids))
    return check


PRUNE_BATCH = 5000


def dns_check_history_prune(*, now=None, days: int | None = None) -> int:
    """Delete checks older than MAILHERD_DNS_CHECK_HISTORY_DAYS; return how many.

    Each domain's newest check is kept however old (the last known state of
    its records). Deletes go in batches so a large history never holds one
    long transaction.
    """
    from django.db.models import Max

    now = now or timezone.now()
    days = days or settings.MAILHERD_DNS_CHECK_HISTORY_DAYS
    cutoff = now - timedelta(days=days)
    newest = DnsCheck.objects.values("domain_id").annotate(newest=Max("id")).values("newest")
    stale = DnsCheck.objects.filter(checked_at__lt=cutoff).exclude(pk__in=newest)
    deleted = 0
    while True:
        ids = list(stale.values_list("pk", flat=True)[:PRUNE_BATCH])
        if not ids:
            return deleted
        deleted += DnsCheck.objects.filter(pk__in=ids).delete()[0]


def dns_regression_notify(*, regression_ids: list[int]) -> int:
    """Email the organization's owners and admins about new regressions; return emails sent."""
    from mailherd.notifications.services import email_send
    from mailherd.tenancy.models import Membership, Role

    regressions = list(
        DnsRegression.objects.filter(
            pk__in=regression_ids, notified_at__isnull=True
        ).select_related("domain", "organization")
    )
    if not regressions:
        return 0
    domain, organization = regressions[0].domain, regressions[0].organization
    recipients = Membership.objects.filter(
        organization=organization, role__in=(Role.OWNER, Role.ADMIN)
    ).select_related("user")
    context = {
        "organization": organization,
        "domain": domain,
        "regressions": regressions,
        "records_url": settings.SITE_URL + _records_path(organization, domain),
    }
    sent = 0
    for membership in recipients:
        email_send(
            to=membership.user.email,
            template="dns_regression",
            context=context,
            organization=organization,
        )
        sent += 1
    DnsRegression.objects.filter(pk__in=[g.pk for g in regressions]).update(
        notified_at=timezone.now()
    )
    return sent


def _records_path(organization, domain) -> str:
    from django.urls import reverse

    return reverse("dns:records", kwargs={"org_slug": organization.slug, "name": domain.name})


@transaction.atomic(durable=True)
def dns_regression_dismiss(*, actor: Actor, organization, regression_id: int) -> None:
    regression = DnsRegression.objects.filter(organization=organization, pk=regression_id).first()
    if regression is None:
        raise NotFound("No such DNS alert.")
    if regression.resolved_at is None:
        regression.resolved_at = timezone.now()
        regression.save(update_fields=["resolved_at"])
        audit_record(
            actor=actor, action="dns.regression_dismiss", organization=organization, obj=regression
        )


# --- the customer's DNS choices -----------------------------------------------------------


def _clean_address(value: str, field: str) -> str:
    value = (value or "").strip().lower()
    if not value:
        return ""
    local, _, domain = value.rpartition("@")
    try:
        validate_email(value)
        value = f"{local}@{normalize_name(domain)}"
    except Exception:
        raise ValidationFailed(f"{value} is not an email address.", field=field)
    return value


def _settings_for_update(domain) -> DnsSettings:
    dns_settings, _ = DnsSettings.objects.select_for_update().get_or_create(domain=domain)
    return dns_settings


@transaction.atomic(durable=True)
def dns_settings_update(
    *,
    actor: Actor,
    domain,
    dmarc_rua: str | None = None,
    dmarc_policy: str | None = None,
    dmarc_pct: int | None = None,
    spf_include: str | None = None,
    mta_sts_mode: str | None = None,
    tls_rpt_rua: str | None = None,
) -> DnsSettings:
    """Change what Mailherd asks the domain to publish. Fields left None are kept."""
    dns_settings = _settings_for_update(domain)
    changed = {}
    if dmarc_rua is not None:
        changed["dmarc_rua"] = _clean_address(dmarc_rua, "dmarc_rua")
    if dmarc_policy is not None:
        if dmarc_policy not in DmarcPolicyChoice.values:
            raise ValidationFailed(
                "The DMARC policy is none, quarantine or reject.", field="dmarc_policy"
            )
        changed["dmarc_policy"] = dmarc_policy
    if dmarc_pct is not None:
        if not 1 <= int(dmarc_pct) <= 100:
            raise ValidationFailed("The percentage is 1 to 100.", field="dmarc_pct")
        changed["dmarc_pct"] = int(dmarc_pct)
    if spf_include is not None:
        includes = []
        for item in spf_include.replace(",", " ").split():
            item = item.removeprefix("include:")
            includes.append(normalize_name(item))
        changed["spf_include"] = " ".join(dict.fromkeys(includes))
    if mta_sts_mode is not None:
        if mta_sts_mode not in DnsSettings.MtaSts.values:
            raise ValidationFailed("MTA-STS is off, testing or enforce.", field="mta_sts_mode")
        if mta_sts_mode != dns_settings.mta_sts_mode:
            changed["mta_sts_id"] = timezone.now().strftime(
                "%Y%m%d%H%M%S"
            )  # policy changed: new id
        changed["mta_sts_mode"] = mta_sts_mode
    if tls_rpt_rua is not None:
        changed["tls_rpt_rua"] = _clean_address(tls_rpt_rua, "tls_rpt_rua")
    for name, value in changed.items():
        setattr(dns_settings, name, value)
    dns_settings.save()
    audit_record(
        actor=actor,
        action="dns.settings_update",
        organization=domain.organization,
        obj=domain,
        data={k: v for k, v in changed.items()},
    )
    return dns_settings


@dataclass(frozen=True)
class StagePlan:
    policy: str
    pct: int
    starts_at: object  # datetime


def dmarc_schedule_recommended(*, now) -> list[StagePlan]:
    """The usual path: watch reports for two weeks, then quarantine a quarter, all, then reject."""
    return [
        StagePlan("quarantine", 25, now + timedelta(days=14)),
        StagePlan("quarantine", 100, now + timedelta(days=28)),
        StagePlan("reject", 100, now + timedelta(days=56)),
    ]


@transaction.atomic(durable=True)
def dmarc_schedule_set(*, actor: Actor, domain, stages: list[StagePlan]) -> list[DmarcStage]:
    """Replace the domain's pending DMARC stages. Stages must tighten and lie in the future."""
    now = timezone.now()
    order = {"none": 0, "quarantine": 1, "reject": 2}
    last = (-1, 0)
    for stage in sorted(stages, key=lambda s: s.starts_at):
        if stage.policy not in order or not 1 <= stage.pct <= 100:
            raise ValidationFailed(
                "Each stage needs a policy (quarantine or reject) and 1–100 %.", field="stages"
            )
        if stage.starts_at <= now:
            raise ValidationFailed("Stages must start in the future.", field="stages")
        step = (order[stage.policy], stage.pct)
        if step <= last:
            raise ValidationFailed(
                "Each stage must be stricter than the one before.", field="stages"
            )
        last = step
    _settings_for_update(domain)  # lock: one schedule change at a time
    DmarcStage.objects.filter(domain=domain, applied_at__isnull=True).delete()
    created = [
        DmarcStage.objects.create(domain=domain, policy=s.policy, pct=s.pct, starts_at=s.starts_at)
        for s in sorted(stages, key=lambda s: s.starts_at)
    ]
    audit_record(
        actor=actor,
        action="dns.dmarc_schedule",
        organization=domain.organization,
        obj=domain,
        data={"stages": [[s.policy, s.pct, s.starts_at.isoformat()] for s in created]},
    )
    return created


def dmarc_stages_apply(*, now=None) -> int:
    """Apply every due DMARC stage (one transaction each); tell the organization. Return how many.

    A due stage is held (and the organization told once) while the domain's DMARC reports show
    senders with real volume that would fail; it applies by itself once they pass.
    """
    now = now or timezone.now()
    applied = 0
    for stage_id in DmarcStage.objects.filter(
        applied_at__isnull=True, starts_at__lte=now
    ).values_list("pk", flat=True):
        if _dmarc_stage_hold(stage_id=stage_id, now=now):
            continue
        if _dmarc_stage_apply_one(stage_id=stage_id, now=now):
            applied += 1
    return applied


def _dmarc_stage_hold(*, stage_id: int, now) -> bool:
    """Hold the stage if the reports say it would hurt legitimate mail; True when held."""
    from mailherd.deliverability.selectors import tightening_blockers

    stage = DmarcStage.objects.select_related("domain").filter(pk=stage_id).first()
    if stage is None:
        return False
    reason = tightening_blockers(domain=stage.domain)
    if not reason:
        return False
    first_time = stage.held_at is None
    DmarcStage.objects.filter(pk=stage_id).update(held_at=stage.held_at or now, held_reason=reason)
    if first_time:
        audit_record(
            actor=Actor.system(),
            action="dns.dmarc_stage_hold",
            organization=stage.domain.organization,
            obj=stage.domain,
            data={"policy": stage.policy, "pct": stage.pct, "reason": reason},
        )
        _dmarc_stage_notify(domain_id=stage.domain_id, held_reason=reason, stage=stage)
    return True


@transaction.atomic
def _dmarc_stage_apply_one(*, stage_id: int, now) -> bool:
    stage = (
        DmarcStage.objects.select_for_update(skip_locked=True)
        .filter(pk=stage_id, applied_at__isnull=True)
        .first()
    )
    if stage is None:
        return False
    domain = stage.domain
    dns_settings = _settings_for_update(domain)
    order = {"none": 0, "quarantine": 1, "reject": 2}
    current = (order[dns_settings.dmarc_policy], dns_settings.dmarc_pct)
    stage.applied_at = now
    if (order[stage.policy], stage.pct) <= current:
        # Already this strict (the customer took the step early): never loosen, just close it.
        stage.save(update_fields=["applied_at"])
        return False
    dns_settings.dmarc_policy, dns_settings.dmarc_pct = stage.policy, stage.pct
    dns_settings.save(update_fields=["dmarc_policy", "dmarc_pct", "updated_at"])
    stage.save(update_fields=["applied_at"])
    audit_record(
        actor=Actor.system(),
        action="dns.dmarc_stage_apply",
        organization=domain.organization,
        obj=domain,
        data={"policy": stage.policy, "pct": stage.pct},
    )
    transaction.on_commit(lambda: _dmarc_stage_notify(domain_id=domain.pk))
    return True


def _dmarc_stage_notify(*, domain_id: int, held_reason: str = "", stage=None) -> None:
    from mailherd.hosting.models import Domain
    from mailherd.notifications.services import email_send
    from mailherd.tenancy.models import Membership, Role

    domain = Domain.objects.select_related("organization", "mail_server").get(pk=domain_id)
    record = next((r for r in domain_records(domain) if r.key == "dmarc"), None)
    context = {
        "domain": domain,
        "organization": domain.organization,
        "record": record,
        "records_url": settings.SITE_URL + _records_path(domain.organization, domain),
        "held_reason": held_reason,
        "stage": stage,
        "senders_url": settings.SITE_URL
        + reverse(
            "deliverability:domain",
            kwargs={"org_slug": domain.organization.slug, "name": domain.name},
        ),
    }
    for membership in Membership.objects.filter(
        organization=domain.organization, role__in=(Role.OWNER, Role.ADMIN)
    ):
        email_send(
            to=membership.user.email,
            template="dns_dmarc_stage_held" if held_reason else "dns_dmarc_stage",
            context=context,
            organization=domain.organization,
        )


# --- DNS provider accounts and the automatic set-up -------------------------------------


PROVIDER_FIELDS = providers.PROVIDER_FIELDS  # the offered providers and what each needs
SECRET_FIELDS = providers.SECRET_FIELDS


class FeatureNotInPlan(MailherdError):
    code = "feature_not_in_plan"
    http_status = 403


def dns_autosetup_require(organization) -> None:
    """Automatic DNS set-up is a plan feature (`dns_autosetup`): refuse before any provider call."""
    from mailherd.plans.models import Feature

    if not organization.plan.has_feature(Feature.DNS_AUTOSETUP):
        raise FeatureNotInPlan(
            f"Automatic DNS set-up is not part of the {organization.plan.name} plan. Upgrade the "
            "plan, or add the records at your DNS provider by hand."
        )


@transaction.atomic(durable=True)
def dns_provider_account_create(
    *, actor: Actor, organization, name: str, provider: str, options: dict
) -> DnsProviderAccount:
    dns_autosetup_require(organization)
    if provider not in PROVIDER_FIELDS:
        raise ValidationFailed("Choose a supported DNS provider.", field="provider")
    name = (name or "").strip()[:100] or provider
    allowed = set(PROVIDER_FIELDS[provider]) | {"zone"}
    options = {
        k: str(v).strip() for k, v in options.items() if k in allowed and str(v or "").strip()
    }
    missing = [
        f
        for f in PROVIDER_FIELDS[provider]
        if f not in options and f not in providers.OPTIONAL_FIELDS
    ]
    if missing:
        raise ValidationFailed(f"Missing: {', '.join(missing)}.", field="options")
    providers.check_options(provider, options)  # SSRF: no private/loopback API URLs
    try:
        with transaction.atomic():
            account = DnsProviderAccount.objects.create(
                organization=organization, name=name, provider=provider, options=json.dumps(options)
            )
    except IntegrityError:
        raise ValidationFailed(f"You already have a DNS provider called {name}.", field="name")
    audit_record(
        actor=actor,
        action="dns.provider_add",
        organization=organization,
        obj=account,
        data={"provider": provider, "fields": sorted(options)},
    )  # never the secrets
    return account


@transaction.atomic(durable=True)
def dns_provider_account_delete(*, actor: Actor, organization, account_id: int) -> None:
    account = DnsProviderAccount.objects.filter(organization=organization, pk=account_id).first()
    if account is None:
        raise NotFound("No such DNS provider.")
    audit_record(actor=actor, action="dns.provider_delete", organization=organization, obj=account)
    account.delete()


@transaction.atomic(durable=True)
def dns_provider_link(*, actor: Actor, domain, account_id: int | None) -> DnsSettings:
    """Use this provider account for the domain's automatic set-up (None: unlink)."""
    account = None
    if account_id:
        dns_autosetup_require(domain.organization)
        account = DnsProviderAccount.objects.filter(
            organization_id=domain.organization_id, pk=account_id
        ).first()
        if account is None:
            raise NotFound("No such DNS provider.")
    dns_settings = _settings_for_update(domain)
    dns_settings.provider_account = account
    dns_settings.save(update_fields=["provider_account", "updated_at"])
    audit_record(
        actor=actor,
        action="dns.provider_link",
        organization=domain.organization,
        obj=domain,
        data={"account": account.name if account else None},
    )
    return dns_settings


def _open(domain):
    dns_autosetup_require(domain.organization)
    dns_settings = dns_settings_for(domain=domain)
    account = dns_settings.provider_account
    if account is None:
        raise ValidationFailed("Link a DNS provider to this domain first.", field="provider")
    try:
        provider = providers.open_provider(
            provider_name=account.provider, options=json.loads(account.options), domain=domain.name
        )
    except providers.ProviderError as exc:
        raise DnsProviderFailed(str(exc))
    return account, provider


def dns_push_plan(*, domain) -> tuple[list[providers.Change], str]:
    """What the push would change at the provider: (changes, fingerprint to confirm with)."""
    if not domain.is_verified or domain.mail_server is None:
        raise ValidationFailed(
            "The domain's records are complete once it is verified and placed on a server."
        )
    account, provider = _open(domain)
    try:
        changes = providers.plan_changes(provider, domain_records(domain))
    except providers.ProviderError as exc:
        raise DnsProviderFailed(str(exc))
    return changes, providers.fingerprint(changes)


def dns_push_apply(*, actor: Actor, domain, confirmed_fingerprint: str) -> DnsPush:
    """Apply the plan the customer saw. Refuse if the zone or our records changed since."""
    account, provider = _open(domain)
    try:
        changes = providers.plan_changes(provider, domain_records(domain))
    except providers.ProviderError as exc:
        raise DnsProviderFailed(str(exc))
    if providers.fingerprint(changes) != confirmed_fingerprint:
        raise Conflict(
            "The records at your DNS provider changed since the preview. Review the new preview."
        )
    to_do = [c for c in changes if c.action != "keep"]
    error = ""
    try:
        providers.apply_changes(provider, to_do)
    except providers.ProviderError as exc:
        error = str(exc)
    push = _push_log(actor=actor, domain=domain, account=account, changes=to_do, error=error)
    if error:
        raise DnsProviderFailed(f"The DNS provider refused a change: {error}")
    return push


@transaction.atomic
def _push_log(*, actor, domain, account, changes, error) -> DnsPush:
    push = DnsPush.objects.create(
        domain=domain,
        account=account,
        actor_label=actor.label[:255],
        changes=[c.as_dict() for c in changes],
        status=DnsPush.Status.FAILED if error else DnsPush.Status.APPLIED,
        error=error,
    )
    audit_record(
        actor=actor,
        action="dns.push",
        organization=domain.organization,
        obj=domain,
        data={"changes": len(changes), "status": push.status},
    )
    return push
