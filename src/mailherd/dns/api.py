"""REST API v1 for a domain's DNS choices, its DMARC schedule and DNS provider push. Thin: the
same services as the portal's DNS pages."""

from datetime import datetime

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status

from mailherd.api.pagination import CURSOR_DESCRIPTION, LIMIT_DESCRIPTION, cursor_page, page_schema
from mailherd.dns import selectors, services

router = Router(tags=["dns"])


def _hosting_enabled(operation):
    import functools

    from mailherd.operator.selectors import feature_require

    @functools.wraps(operation)
    def wrapper(request, *args, **kwargs):
        feature_require("email_hosting", request.organization)
        return operation(request, *args, **kwargs)

    return wrapper


router.add_decorator(_hosting_enabled)


class ErrorOut(Schema):
    code: str
    message: str


def _domain(request, name):
    return selectors.domain_get(organization=request.organization, name=name)


# --- DNS settings --------------------------------------------------------------------------------


class DnsSettingsOut(Schema):
    dmarc_policy: str = Field(description="none, quarantine or reject")
    dmarc_pct: int
    dmarc_rua: str = Field(description="Mailbox for DMARC aggregate reports; empty: postmaster@")
    tls_rpt_rua: str
    spf_include: list[str] = Field(description="Extra SPF includes (other services sending as you)")
    mta_sts_mode: str = Field(description="off, testing or enforce")
    dns_provider: int | None = Field(description="The linked DNS provider account's id")


class DnsSettingsIn(Schema):
    dmarc_policy: str | None = Field(None, examples=["quarantine"])
    dmarc_pct: int | None = Field(None, ge=1, le=100, examples=[100])
    dmarc_rua: str | None = Field(None, max_length=320, examples=["dmarc@example.com"])
    tls_rpt_rua: str | None = Field(None, max_length=320)
    spf_include: list[str] | None = Field(
        None, max_length=20, examples=[["_spf.google.com", "sendgrid.net"]]
    )
    mta_sts_mode: str | None = Field(None, examples=["testing"])


def _settings_out(dns_settings) -> dict:
    return {
        "dmarc_policy": dns_settings.dmarc_policy,
        "dmarc_pct": dns_settings.dmarc_pct,
        "dmarc_rua": dns_settings.dmarc_rua,
        "tls_rpt_rua": dns_settings.tls_rpt_rua,
        "spf_include": dns_settings.spf_include.split(),
        "mta_sts_mode": dns_settings.mta_sts_mode,
        "dns_provider": dns_settings.provider_account_id,
    }


@router.get(
    "/domains/{name}/dns-settings",
    response={200: DnsSettingsOut, 404: ErrorOut},
    summary="The domain's DNS choices",
)
def dns_settings_get(request, name: str):
    """What the domain is asked to publish beyond the defaults: DMARC policy and report
    addresses, extra SPF includes, MTA-STS, and the linked DNS provider."""
    return Status(200, _settings_out(selectors.dns_settings_for(domain=_domain(request, name))))


@router.patch(
    "/domains/{name}/dns-settings",
    response={200: DnsSettingsOut, 404: ErrorOut, 422: ErrorOut},
    summary="Change the domain's DNS choices",
)
def dns_settings_patch(request, name: str, body: DnsSettingsIn):
    """Fields left out are kept. The records to publish (`GET /domains/{name}`) change with them."""
    domain = _domain(request, name)
    data = body.dict(exclude_unset=True)
    if "spf_include" in data and data["spf_include"] is not None:
        data["spf_include"] = " ".join(data["spf_include"])
    services.dns_settings_update(
        actor=request.actor, domain=domain, **{k: v for k, v in data.items() if v is not None}
    )
    return Status(200, _settings_out(selectors.dns_settings_for(domain=domain)))


# --- DMARC schedule ------------------------------------------------------------------------------


class StageIn(Schema):
    policy: str = Field(examples=["quarantine"], description="quarantine or reject")
    pct: int = Field(100, ge=1, le=100)
    starts_at: datetime = Field(examples=["2027-01-15T00:00:00Z"])


class StageOut(Schema):
    policy: str
    pct: int
    starts_at: datetime
    applied_at: datetime | None
    held_reason: str


class ScheduleIn(Schema):
    stages: list[StageIn] | None = Field(
        None, max_length=10, description="Each stricter than the one before, all in the future"
    )
    recommended: bool = Field(
        False, description="Use the usual path instead: quarantine 25 %, then all, then reject"
    )


class ScheduleOut(Schema):
    stages: list[StageOut]


def _schedule_out(domain) -> dict:
    from mailherd.dns.models import DmarcStage

    return {
        "stages": [
            {
                "policy": s.policy,
                "pct": s.pct,
                "starts_at": s.starts_at,
                "applied_at": s.applied_at,
                "held_reason": s.held_reason,
            }
            for s in DmarcStage.objects.filter(domain=domain).order_by("starts_at")
        ]
    }


@router.get(
    "/domains/{name}/dmarc-schedule",
    response={200: ScheduleOut, 404: ErrorOut},
    summary="The domain's DMARC schedule",
)
def dmarc_schedule_get(request, name: str):
    """Past and pending stages; a due stage is held while the reports show senders that fail."""
    return Status(200, _schedule_out(_domain(request, name)))


@router.put(
    "/domains/{name}/dmarc-schedule",
    response={200: ScheduleOut, 404: ErrorOut, 422: ErrorOut},
    summary="Replace the domain's pending DMARC stages",
)
def dmarc_schedule_put(request, name: str, body: ScheduleIn):
    """`stages` (empty: none pending), or `recommended: true` for the usual path."""
    from django.utils import timezone

    from mailherd.core.errors import ValidationFailed

    domain = _domain(request, name)
    if body.recommended:
        stages = services.dmarc_schedule_recommended(now=timezone.now())
    elif body.stages is not None:
        stages = [services.StagePlan(s.policy, s.pct, s.starts_at) for s in body.stages]
    else:
        raise ValidationFailed("Send `stages`, or `recommended: true`.", field="stages")
    services.dmarc_schedule_set(actor=request.actor, domain=domain, stages=stages)
    return Status(200, _schedule_out(domain))


# --- DNS providers -------------------------------------------------------------------------------


class ProviderIn(Schema):
    name: str = Field(max_length=100, examples=["Our Cloudflare"])
    provider: str = Field(examples=["cloudflare"], description="powerdns, cloudflare, hetzner, …")
    options: dict[str, str] = Field(
        description='The provider\'s credentials, e.g. {"auth_token": "…"}; never shown back',
        examples=[{"auth_token": "cf-token"}],
    )


class ProviderOut(Schema):
    id: int
    name: str
    provider: str
    created_at: datetime


ProviderList = page_schema(ProviderOut, "DnsProviderList")


def _provider_out(account) -> dict:
    return {
        "id": account.pk,
        "name": account.name,
        "provider": account.provider,
        "created_at": account.created_at,
    }


@router.get("/dns-providers", response={200: ProviderList}, summary="DNS provider accounts")
def dns_providers_list(
    request,
    cursor: str | None = Query(None, description=CURSOR_DESCRIPTION),
    limit: int | None = Query(None, description=LIMIT_DESCRIPTION),
):
    """The organization's DNS provider accounts (their credentials are never shown)."""
    from mailherd.dns.models import DnsProviderAccount

    accounts = DnsProviderAccount.objects.filter(organization=request.organization)
    return cursor_page(accounts, cursor=cursor, limit=limit, order="name", serialize=_provider_out)


@router.post(
    "/dns-providers",
    response={201: ProviderOut, 403: ErrorOut, 422: ErrorOut},
    summary="Add a DNS provider account",
)
def dns_providers_create(request, body: ProviderIn):
    """Credentials are kept encrypted; the account can then be linked to domains."""
    account = services.dns_provider_account_create(
        actor=request.actor,
        organization=request.organization,
        name=body.name,
        provider=body.provider,
        options=body.options,
    )
    return Status(201, _provider_out(account))


@router.delete(
    "/dns-providers/{account_id}",
    response={204: None, 404: ErrorOut},
    summary="Remove a DNS provider account",
)
def dns_providers_delete(request, account_id: int):
    """Its credentials are deleted; domains linked to it are unlinked (their records stay as they
    are at the provider)."""
    services.dns_provider_account_delete(
        actor=request.actor, organization=request.organization, account_id=account_id
    )
    return HttpResponse(status=204)


class ProviderLinkIn(Schema):
    account: int | None = Field(description="A DNS provider account's id; null unlinks")


@router.put(
    "/domains/{name}/dns-provider",
    response={200: DnsSettingsOut, 404: ErrorOut, 422: ErrorOut},
    summary="Link a DNS provider account to the domain",
)
def dns_provider_link(request, name: str, body: ProviderLinkIn):
    """Which provider account `dns-push` publishes the domain's records with; `null` unlinks."""
    domain = _domain(request, name)
    services.dns_provider_link(actor=request.actor, domain=domain, account_id=body.account)
    return Status(200, _settings_out(selectors.dns_settings_for(domain=domain)))


class ChangeOut(Schema):
    action: str = Field(description="create, delete or keep")
    type: str
    name: str
    value: str


class PushIn(Schema):
    fingerprint: str | None = Field(
        None,
        description="The `fingerprint` of a dry run: the push then applies exactly that diff, "
        "or answers 409 if the zone changed since. Left out: the current diff is applied.",
    )


class PushOut(Schema):
    dry_run: bool
    applied: bool
    fingerprint: str
    changes: list[ChangeOut]


@router.post(
    "/domains/{name}/dns-push",
    response={
        200: PushOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
        502: ErrorOut,
    },
    summary="Publish the domain's records at its DNS provider",
)
def dns_push(request, name: str, body: PushIn | None = None, dry_run: bool = Query(False)):
    """With `?dry_run=1`: the diff it would apply at the provider (creates and deletes; `keep`
    rows are already right) and its `fingerprint`, changing nothing. Without: applies it."""
    domain = _domain(request, name)
    changes, fingerprint = services.dns_push_plan(domain=domain)
    out = [{"action": c.action, "type": c.type, "name": c.name, "value": c.value} for c in changes]
    if dry_run:
        return Status(
            200, {"dry_run": True, "applied": False, "fingerprint": fingerprint, "changes": out}
        )
    confirmed = (body.fingerprint if body else None) or fingerprint
    services.dns_push_apply(actor=request.actor, domain=domain, confirmed_fingerprint=confirmed)
    return Status(
        200, {"dry_run": False, "applied": True, "fingerprint": fingerprint, "changes": out}
    )
