"""REST API v1 for domains, mailboxes, aliases and usage: thin, over the services."""

from datetime import datetime
from typing import Literal

from django.db import transaction
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from mailherd.api.errors import not_found
from mailherd.api.pagination import CURSOR_DESCRIPTION, LIMIT_DESCRIPTION, cursor_page, page_schema
from mailherd.dns.records import domain_records
from mailherd.hosting import selectors, services
from mailherd.hosting.services.ratelimits import (
    domain_rate_limit_set,
    effective_rate_limit,
    mailbox_rate_limit_set,
)
from mailherd.plans.selectors import organization_usage

router = Router(tags=["hosting"])


def _hosting_enabled(operation):
    """Every hosting endpoint is 404 while the operator has switched email hosting off."""
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


class RecordOut(Schema):
    type: str
    name: str
    value: str
    priority: int | None
    ttl: int
    status: str = Field(
        ...,
        description="Last known: ok, missing or wrong; unchecked before the first conclusive check",
    )
    found: list[str] = Field(default_factory=list, description="What DNS answered at that check")
    checked_at: datetime | None = None


class VerificationOut(Schema):
    type: str
    name: str
    value: str


class DomainIn(Schema):
    name: str


class RateLimitIn(Schema):
    value: int = Field(..., description="Messages per frame, at least 1")
    frame: str = Field("h", description="s, m, h or d")


class RateLimitOut(Schema):
    value: int
    frame: str
    source: str = Field(..., description="plan (the plan's default) or custom (set lower by you)")


class SpamScoreIn(Schema):
    low: float = Field(..., description="From this score mail goes to the Junk folder")
    high: float = Field(..., description="From this score mail is refused")


class DomainPatch(Schema):
    rate_limit: RateLimitIn | None = Field(
        None, description="Outbound limit for the whole domain; null goes back to the plan's"
    )
    relay: str | None = Field(
        None, description="Name of a smarthost (plan feature); null: the server's default"
    )


class DomainOut(Schema):
    name: str
    unicode_name: str
    status: str
    verified: bool
    verification: VerificationOut
    records: list[RecordOut]
    rate_limit: RateLimitOut | None
    relay: str | None = Field(None, description="The domain's own smarthost, if it chose one")
    sending_via: str | None = Field(
        None, description="The smarthost its mail leaves through (own or the server's); null: direct"
    )
    alias_of: str | None = Field(
        None, description="For an alias domain: the domain whose addresses also receive here"
    )
    last_error: str


PASSWORD_HASH_HELP = (
    "Instead of `password`: the user's existing password hash in a scheme Dovecot accepts, with its prefix "
    "({BLF-CRYPT}, {SHA512-CRYPT}, {SHA256-CRYPT}, {ARGON2ID}, {ARGON2I}, {SSHA512}, {SSHA256}, ...), "
    "so users moving in keep their passwords"
)


class MailboxIn(Schema):
    address: str
    password: str | None = Field(None, description="Omit (with password_hash) to have one generated")
    password_hash: str | None = Field(None, description=PASSWORD_HASH_HELP)
    quota_mb: int | None = None
    name: str = ""


class MailboxPatch(Schema):
    password: str | None = None
    password_hash: str | None = Field(None, description=PASSWORD_HASH_HELP)
    quota_mb: int | None = None
    name: str | None = None
    active: bool | None = None
    user: str | None = Field(None, description='Email of the member who uses this mailbox; "" for nobody')
    sso: bool | None = Field(None, description="Sign in through the portal (Mailcow generic-oidc); mail apps use app passwords")
    rate_limit: RateLimitIn | None = Field(
        None, description="Outbound limit, at most the plan's; null goes back to the plan's"
    )
    quarantine_notification: str | None = Field(
        None, description="Notices of held mail: never, hourly, daily or weekly"
    )
    quarantine_category: str | None = Field(
        None, description="Which held mail the notices list: reject, add_header or all"
    )
    spam_score: SpamScoreIn | None = Field(
        None, description="Thresholds: low (to Junk), high (refused); null for the defaults"
    )


class MailboxOut(Schema):
    address: str
    name: str
    domain: str
    status: str
    active: bool
    quota_mb: int
    quota_used_bytes: int
    messages: int
    rate_limit: RateLimitOut | None
    quarantine_notification: str
    quarantine_category: str
    spam_score: dict | None = Field(None, description='{"low", "high"}, or null for the defaults')
    last_error: str
    user: str | None = Field(None, description="The member who uses this mailbox")
    sso: bool = False


class MailboxUpdatedOut(MailboxOut):
    password: str | None = Field(None, description="Only when single sign-on was turned off; shown once")


class MailboxCreatedOut(MailboxOut):
    password: str | None = Field(None, description="Only when generated for you; shown once")


class MailboxBulkIn(Schema):
    mailboxes: list[MailboxIn] = Field(..., description="At most 500")


class MailboxBulkItemOut(Schema):
    address: str
    result: str = Field(..., description="created or refused")
    code: str | None = None
    message: str | None = None
    mailbox: MailboxCreatedOut | None = None


class MailboxBulkOut(Schema):
    created: int
    refused: int
    results: list[MailboxBulkItemOut]


class AliasIn(Schema):
    address: str
    goto: list[str]
    active: bool = True


class AliasPatch(Schema):
    goto: list[str] | None = None
    active: bool | None = None


class AliasOut(Schema):
    address: str
    domain: str
    goto: list[str]
    catch_all: bool
    status: str
    active: bool
    last_error: str


class LimitOut(Schema):
    used: int
    limit: int


class UsageOut(Schema):
    domains: LimitOut
    mailboxes: LimitOut
    aliases: LimitOut
    storage_mb: LimitOut


def domain_out(domain) -> dict:
    """The domain with each record's last known status (no DNS query: /check asks DNS now)."""
    from mailherd.dns.selectors import record_statuses

    records = domain_records(domain)
    statuses = record_statuses(domain=domain, records=records)
    return {
        "name": domain.name,
        "unicode_name": domain.unicode_name,
        "status": domain.status,
        "verified": domain.is_verified,
        "verification": {
            "type": "TXT",
            "name": domain.verification_record_name,
            "value": domain.verification_record_value,
        },
        "records": [
            {**record.as_dict(), **{k: v for k, v in known.items() if k != "detail"}}
            for record, known in zip(records, statuses, strict=True)
        ],
        "rate_limit": _rate_limit_out(domain, domain.organization.plan, "domain"),
        "relay": domain.relay.name if domain.relay_id else None,
        "sending_via": _sending_via(domain),
        "alias_of": domain.alias_of.name if domain.alias_of_id else None,
        "last_error": domain.last_error or domain.last_verification_error,
    }


def mailbox_out(mailbox, organization) -> dict:
    return {
        "address": mailbox.address,
        "name": mailbox.name,
        "domain": mailbox.domain.name,
        "status": selectors.mailbox_status(mailbox, organization=organization),
        "active": mailbox.enabled,
        "quota_mb": mailbox.quota_mb,
        "quota_used_bytes": mailbox.quota_used_bytes,
        "messages": mailbox.messages,
        "rate_limit": _rate_limit_out(mailbox, organization.plan, "mailbox"),
        "quarantine_notification": mailbox.quarantine_notification,
        "quarantine_category": mailbox.quarantine_category,
        "spam_score": (
            {"low": mailbox.spam_low, "high": mailbox.spam_high} if mailbox.spam_low is not None else None
        ),
        "last_error": mailbox.last_error,
        "user": mailbox.user.email if mailbox.user_id else None,
        "sso": mailbox.sso,
        # A platform address (docs/depth.md): not counted in the plan; removed on `remove_at` if set.
        "platform_address": mailbox.is_system,
        "remove_at": mailbox.remove_at.isoformat() if mailbox.remove_at else None,
    }


def _sending_via(domain):
    from mailherd.mailcow.relays import effective_relay

    relay = effective_relay(domain)
    return relay.name if relay else None


def _rate_limit_out(obj, plan, scope):
    limit = effective_rate_limit(obj, plan, scope)
    return limit.as_dict() if limit else None


def alias_out(alias) -> dict:
    return {
        "address": alias.address,
        "domain": alias.domain.name,
        "goto": alias.goto,
        "catch_all": alias.is_catch_all,
        "status": alias.sync_status,
        "active": alias.enabled,
        "last_error": alias.last_error,
    }


DomainPage = page_schema(DomainOut, "DomainPage")
MailboxPage = page_schema(MailboxOut, "MailboxPage")
AliasPage = page_schema(AliasOut, "AliasPage")


def _domain_or_404(request, name):
    domain = selectors.domain_get(organization=request.organization, name=name)
    if domain is None:
        raise not_found("domain", name)
    return domain


# -- domains -------------------------------------------------------------------


@router.get("/domains", response={200: DomainPage}, summary="List domains")
def domains_list(
    request,
    search: str = Query("", max_length=253, description="Part of the domain name."),
    status: Literal["unverified", "pending", "active", "error", "suspended"] | None = None,
    cursor: str | None = Query(None, description=CURSOR_DESCRIPTION),
    limit: int = Query(100, ge=1, le=1000, description=LIMIT_DESCRIPTION),
):
    """The organization's domains by name, with `count` (the total) and a cursor to the next page."""
    rows = selectors.domain_list(organization=request.organization, search=search, status=status or "")
    return cursor_page(rows, cursor=cursor, limit=limit, order="name", serialize=domain_out)


@router.post("/domains", response={201: DomainOut, 409: ErrorOut, 422: ErrorOut}, summary="Add a domain")
def domains_add(request, body: DomainIn):
    """Adds the domain unverified and answers the TXT record that proves it is yours
    (`verification`). 409 `domain_exists` if it is already here, `domain_taken` if another
    organization holds it; 403 `plan_limit_exceeded` at the plan's domain limit."""
    domain = services.domain_add(
        actor=request.actor, organization=request.organization, name=body.name
    )
    return Status(201, domain_out(domain))


@router.get("/domains/{name}", response={200: DomainOut, 404: ErrorOut}, summary="Get a domain")
def domains_get(request, name: str):
    """The domain, its verification record and the records to publish, each with its last known DNS
    `status`, what was `found` and `checked_at` (no DNS query: `POST …/check` asks DNS now)."""
    return domain_out(_domain_or_404(request, name))


@router.post("/domains/{name}/verify", response={200: DomainOut, 404: ErrorOut, 409: ErrorOut}, summary="Verify a domain")
def domains_verify(request, name: str):
    """Looks up the verification TXT record now. Once it is found the domain is verified and set up
    on a mail server (through the outbox: `status` goes pending → active). 409
    `domain_not_verified` with what DNS answered while the record is not visible yet."""
    domain = services.domain_verify(actor=request.actor, domain=_domain_or_404(request, name))
    return domain_out(domain)


@router.post("/domains/{name}/check", response={200: DomainOut, 404: ErrorOut}, summary="Check a domain's DNS records now")
def domains_check(request, name: str):
    """Re-check every record of the domain in DNS now."""
    from mailherd.dns.services import domain_check

    domain = _domain_or_404(request, name)
    results = domain_check(domain=domain)
    out = domain_out(domain)
    now = timezone.now()
    out["records"] = [
        {**r.record.as_dict(), "status": r.status, "found": r.found, "checked_at": now}
        for r in results
    ]
    return out


@router.patch(
    "/domains/{name}", response={200: DomainOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}, summary="Change a domain")
def domains_update(request, name: str, body: DomainPatch):
    """Change a domain's settings: `rate_limit` (null: the plan's default), `relay` (null: the
    server's default smarthost)."""
    from mailherd.hosting.services.relays import domain_relay_set

    domain = _domain_or_404(request, name)
    with transaction.atomic():
        if "relay" in body.model_fields_set:
            domain = domain_relay_set(
                actor=request.actor,
                organization=request.organization,
                name=domain.name,
                relay=body.relay,
            )
        if "rate_limit" in body.model_fields_set:
            domain = domain_rate_limit_set(
                actor=request.actor,
                organization=request.organization,
                name=domain.name,
                rate_limit=body.rate_limit,
            )
    return domain_out(_domain_or_404(request, domain.name))


@router.delete("/domains/{name}", response={204: None, 404: ErrorOut, 422: ErrorOut}, summary="Remove a domain")
def domains_delete(
    request,
    name: str,
    confirm: str = Query(
        "", description="Must repeat the domain's name: the removal takes every mailbox with it"
    ),
):
    """Remove the domain with its mailboxes and aliases: `DELETE /domains/{name}?confirm={name}`.

    Without `confirm`, or when it names another domain, 422 `confirmation_required` and nothing
    is removed."""
    from mailherd.core.errors import ConfirmationRequired

    try:
        services.domain_delete(
            actor=request.actor, organization=request.organization, name=name, confirm=confirm
        )
    except ConfirmationRequired:
        raise ConfirmationRequired(
            f"Removing {name} deletes all its mailboxes and aliases: repeat its name as"
            f" ?confirm={name} to go ahead.",
            field="confirm",
        ) from None
    return Status(204, None)


# -- mailboxes -----------------------------------------------------------------


@router.get("/mailboxes", response={200: MailboxPage}, summary="List mailboxes")
def mailboxes_list(
    request,
    domain: str | None = Query(None, max_length=253, description="Only this domain's mailboxes."),
    search: str = Query("", max_length=255, description="Part of the address or display name."),
    cursor: str | None = Query(None, description=CURSOR_DESCRIPTION),
    limit: int = Query(100, ge=1, le=1000, description=LIMIT_DESCRIPTION),
):
    """Mailboxes by address, filtered as in the portal, with `count` and a cursor."""
    rows = selectors.mailbox_list(organization=request.organization, domain=domain, search=search)
    return cursor_page(
        rows,
        cursor=cursor,
        limit=limit,
        order="address",
        serialize=lambda m: mailbox_out(m, request.organization),
    )


@router.post(
    "/mailboxes", response={201: MailboxCreatedOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}, summary="Create a mailbox")
def mailboxes_create(request, body: MailboxIn):
    """Under a verified domain, within the plan's mailbox and storage limits (checked before the
    mail server is called). Give `password` (hashed here, never stored in clear),
    `password_hash` (`{BLF-CRYPT}`, `{SHA512-CRYPT}`, `{ARGON2ID}`, … to keep a user's password
    when moving in), or neither: a generated password is answered once in `password`. The
    mailbox is `pending` until the mail server has it."""
    mailbox, password = services.mailbox_create(
        actor=request.actor,
        organization=request.organization,
        address=body.address,
        password=body.password,
        password_hash=body.password_hash,
        quota_mb=body.quota_mb,
        name=body.name,
    )
    return Status(
        201,
        {
            **mailbox_out(mailbox, request.organization),
            "password": None if (body.password or body.password_hash) else password,
        },
    )


@router.post("/mailboxes/bulk", response={200: MailboxBulkOut, 422: ErrorOut}, summary="Create many mailboxes")
def mailboxes_create_bulk(request, body: MailboxBulkIn):
    """Create up to 500 mailboxes in one call; each is created or refused on its own (same rules)."""
    from mailherd.hosting.services.mailboxes import MailboxRequest, mailbox_create_many

    outcomes = mailbox_create_many(
        actor=request.actor,
        organization=request.organization,
        requests=[MailboxRequest(address=m.address, password=m.password, quota_mb=m.quota_mb, name=m.name,
                                 password_hash=m.password_hash)
                  for m in body.mailboxes],
    )
    results = []
    for outcome in outcomes:
        if outcome.error is not None:
            results.append(
                {"address": outcome.request.address, "result": "refused", **outcome.error.as_dict()}
            )
        else:
            mailbox = {
                **mailbox_out(outcome.mailbox, request.organization),
                "password": outcome.password or None,
            }
            results.append(
                {"address": outcome.mailbox.address, "result": "created", "mailbox": mailbox}
            )
    created = sum(1 for r in results if r["result"] == "created")
    return {"created": created, "refused": len(results) - created, "results": results}


def _mailbox_or_404(request, address):
    mailbox = selectors.mailbox_get(organization=request.organization, address=address)
    if mailbox is None:
        raise not_found("mailbox", address)
    return mailbox


@router.get("/mailboxes/{address}", response={200: MailboxOut, 404: ErrorOut}, summary="Get a mailbox")
def mailboxes_get(request, address: str):
    """The mailbox with its quota, usage, state on the mail server and settings."""
    return mailbox_out(_mailbox_or_404(request, address), request.organization)


@router.patch(
    "/mailboxes/{address}", response={200: MailboxUpdatedOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}, summary="Change a mailbox")
def mailboxes_update(request, address: str, body: MailboxPatch):
    """Any of: `password` or `password_hash`, `quota_mb`, `name`, `active`, `user` (the member who
    reads it), `sso`, `rate_limit`, spam and quarantine settings. All of the change or none of
    it; applied to the mail server through the outbox."""
    with transaction.atomic():  # all of the patch or none of it
        mailbox = services.mailbox_update(
            actor=request.actor,
            organization=request.organization,
            address=address,
            password=body.password,
            password_hash=body.password_hash,
            quota_mb=body.quota_mb,
            name=body.name,
            enabled=body.active,
            user=body.user,
            sso=body.sso,
        )
        generated = getattr(mailbox, "generated_password", None)
        if "rate_limit" in body.model_fields_set:
            mailbox = mailbox_rate_limit_set(
                actor=request.actor,
                organization=request.organization,
                address=mailbox.address,
                rate_limit=body.rate_limit,
            )
        spam = {
            key: getattr(body, key)
            for key in ("quarantine_notification", "quarantine_category", "spam_score")
            if key in body.model_fields_set
        }
        if spam:
            from mailherd.hosting.services.spam import mailbox_spam_settings_set

            mailbox = mailbox_spam_settings_set(
                actor=request.actor, organization=request.organization, address=mailbox.address, **spam
            )
    return {**mailbox_out(mailbox, request.organization), "password": generated}


@router.delete("/mailboxes/{address}", response={204: None, 404: ErrorOut}, summary="Delete a mailbox")
def mailboxes_delete(request, address: str):
    """Deletes the mailbox and all of its mail on the mail server (through the outbox). This cannot
    be undone."""
    services.mailbox_delete(actor=request.actor, organization=request.organization, address=address)
    return Status(204, None)


# -- aliases -------------------------------------------------------------------


@router.get("/aliases", response={200: AliasPage}, summary="List aliases")
def aliases_list(
    request,
    domain: str | None = Query(None, max_length=253, description="Only this domain's aliases."),
    search: str = Query("", max_length=255, description="Part of the address."),
    cursor: str | None = Query(None, description=CURSOR_DESCRIPTION),
    limit: int = Query(100, ge=1, le=1000, description=LIMIT_DESCRIPTION),
):
    """Aliases by address, filtered as in the portal, with `count` and a cursor."""
    rows = selectors.alias_list(organization=request.organization, domain=domain, search=search)
    return cursor_page(rows, cursor=cursor, limit=limit, order="address", serialize=alias_out)


@router.post(
    "/aliases", response={201: AliasOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}, summary="Create an alias")
def aliases_create(request, body: AliasIn):
    """Mail to `address` goes to every address in `goto`. The address must be free (409
    `address_in_use`), under a verified domain, within the plan's alias limit; forwarding
    outside the organization's domains needs the plan's external forwarding, a catch-all
    (`@domain`) the catch-all feature."""
    alias = services.alias_create(
        actor=request.actor,
        organization=request.organization,
        address=body.address,
        goto=body.goto,
        enabled=body.active,
    )
    return Status(201, alias_out(alias))


def _alias_or_404(request, address):
    alias = selectors.alias_get(organization=request.organization, address=address)
    if alias is None:
        raise not_found("alias", address)
    return alias


@router.get("/aliases/{address}", response={200: AliasOut, 404: ErrorOut}, summary="Get an alias")
def aliases_get(request, address: str):
    """The alias with its targets and state on the mail server."""
    return alias_out(_alias_or_404(request, address))


@router.patch(
    "/aliases/{address}", response={200: AliasOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}, summary="Change an alias")
def aliases_update(request, address: str, body: AliasPatch):
    """New targets (`goto`) and/or `active`; the same rules as when creating it."""
    alias = services.alias_update(
        actor=request.actor,
        organization=request.organization,
        address=address,
        goto=body.goto,
        enabled=body.active,
    )
    return alias_out(alias)


@router.delete("/aliases/{address}", response={204: None, 404: ErrorOut}, summary="Delete an alias")
def aliases_delete(request, address: str):
    """Mail to the address is refused from then on (unless a catch-all takes it); mail already
    delivered stays."""
    services.alias_delete(actor=request.actor, organization=request.organization, address=address)
    return Status(204, None)


# -- usage ---------------------------------------------------------------------


@router.get("/usage", response=UsageOut, summary="Plan usage")
def usage(request):
    """The plan's limits and how much of each the organization uses: domains, mailboxes, aliases,
    storage."""
    return {
        name: {"used": item.used, "limit": item.limit}
        for name, item in organization_usage(organization=request.organization).items()
    }
