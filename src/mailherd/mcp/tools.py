"""MCP tools: each one a thin call to the same services and selectors as the REST API.

A tool is an input model (pydantic: validation and the advertised JSON Schema)
and a handler `(ctx, args) -> dict`. No business rule lives here; errors are the
services' `MailherdError`s, which the server turns into `isError` results.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mailherd.core.errors import NotFound
from mailherd.hosting import selectors, services
from mailherd.hosting.api import PASSWORD_HASH_HELP, alias_out, domain_out, mailbox_out


@dataclass(frozen=True)
class Context:
    """Who is calling: the token's organization and the acting identity."""

    organization: Any
    actor: Any


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[Args]
    handler: Callable[[Context, Any], dict]
    feature: str = "email_hosting"
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    # The token scope's resource (mailherd.api.scopes); guessed from the name when empty.
    scope: str = ""

    @property
    def resource(self) -> str:
        if self.scope:
            return self.scope
        from mailherd.api.scopes import api_resources

        words = set(self.name.split("_"))
        for resource in api_resources():
            singular = resource[:-2] if resource.endswith(("ses", "xes")) else resource.rstrip("s")
            if resource in words or singular in words or resource.replace("_", "") in words:
                return resource
        if "dns" in words and "domains" in api_resources():
            return "domains"
        return "*"  # unknown: only tokens with access to everything may call it

    def input_schema(self) -> dict:
        return _strip_titles(self.args.model_json_schema())

    def describe(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema(),
            "annotations": {
                "readOnlyHint": self.read_only,
                "destructiveHint": self.destructive,
                "idempotentHint": self.read_only,
                "openWorldHint": False,
            },
        }


def _strip_titles(schema):
    """pydantic adds a `title` to every node; agents only need names, types and descriptions."""
    if isinstance(schema, dict):
        return {
            key: _strip_titles(value)
            for key, value in schema.items()
            if not (key == "title" and isinstance(value, str))
        }
    if isinstance(schema, list):
        return [_strip_titles(item) for item in schema]
    return schema


TOOLS: dict[str, Tool] = {}


def tool(name: str, description: str, args: type[Args] = Args, **flags):
    def register(handler):
        TOOLS[name] = Tool(name=name, description=description, args=args, handler=handler, **flags)
        return handler

    return register


def _domain(ctx: Context, name: str):
    domain = selectors.domain_get(organization=ctx.organization, name=name)
    if domain is None:
        raise NotFound(f"No domain {name} in this organization.")
    return domain


# -- input models ----------------------------------------------------------------


class DomainName(Args):
    name: str = Field(..., description="Domain name, e.g. example.com")


class DomainDelete(Args):
    name: str = Field(..., description="Domain name")
    confirm: str = Field(..., description="Must repeat the domain name exactly")


class Listing(Args):
    domain: str | None = Field(None, description="Only this domain")
    search: str = Field("", description="Substring of the address or name")
    limit: int = Field(100, ge=1, le=1000, description="At most this many (1-1000)")
    offset: int = Field(0, ge=0, le=10_000_000, description="Skip this many (0-10000000)")


class Address(Args):
    address: str = Field(..., description="Full email address, e.g. jane@example.com")


class MailboxCreate(Args):
    address: str = Field(..., description="Full email address under a verified domain")
    password: str | None = Field(
        None,
        description="Omit (with password_hash) to have one generated; a generated password is returned once",
    )
    password_hash: str | None = Field(None, description=PASSWORD_HASH_HELP)
    quota_mb: int | None = Field(None, description="Quota in MiB; omit for the default")
    name: str = Field("", description="Display name")


class MailboxUpdate(Args):
    address: str = Field(..., description="The mailbox's email address")
    password: str | None = Field(None, description="New password")
    password_hash: str | None = Field(None, description=PASSWORD_HASH_HELP)
    quota_mb: int | None = Field(None, description="New quota in MiB")
    name: str | None = Field(None, description="New display name")
    active: bool | None = Field(None, description="Enable (true) or disable (false) the mailbox")


class AliasCreate(Args):
    address: str = Field(
        ..., description="Alias address, or @domain for a catch-all (if the plan allows it)"
    )
    goto: list[str] = Field(..., description="Destination addresses")
    active: bool = Field(True, description="Whether the alias delivers")


class AliasUpdate(Args):
    address: str = Field(..., description="The alias address")
    goto: list[str] | None = Field(None, description="New destination addresses (replaces all)")
    active: bool | None = Field(None, description="Enable or disable the alias")


# -- usage -------------------------------------------------------------------------


@tool("get_usage", "The organization's plan limits and how much of each is used.", read_only=True)
def get_usage(ctx: Context, args: Args) -> dict:
    from mailherd.plans.selectors import organization_usage

    return {
        name: {"used": item.used, "limit": item.limit}
        for name, item in organization_usage(organization=ctx.organization).items()
    }


# -- domains -----------------------------------------------------------------------


@tool(
    "list_domains", "All domains of the organization with status and DNS records.", read_only=True
)
def list_domains(ctx: Context, args: Args) -> dict:
    rows = selectors.domain_list(organization=ctx.organization)
    return {"count": rows.count(), "domains": [domain_out(d) for d in rows]}


@tool(
    "add_domain",
    "Add a domain. It stays unverified until the returned TXT verification record is published "
    "in DNS and verify_domain succeeds.",
    DomainName,
)
def add_domain(ctx: Context, args: DomainName) -> dict:
    domain = services.domain_add(actor=ctx.actor, organization=ctx.organization, name=args.name)
    return domain_out(domain)


@tool(
    "get_domain",
    "One domain: status, verification TXT record and the DNS records to publish.",
    DomainName,
    read_only=True,
)
def get_domain(ctx: Context, args: DomainName) -> dict:
    return domain_out(_domain(ctx, args.name))


@tool(
    "verify_domain",
    "Look up the domain's verification TXT record; on success the domain is provisioned.",
    DomainName,
)
def verify_domain(ctx: Context, args: DomainName) -> dict:
    return domain_out(services.domain_verify(actor=ctx.actor, domain=_domain(ctx, args.name)))


@tool(
    "check_domain_dns",
    "Re-check every DNS record of the domain now; each record gets a status.",
    DomainName,
    read_only=True,
)
def check_domain_dns(ctx: Context, args: DomainName) -> dict:
    from mailherd.dns.services import domain_check

    domain = _domain(ctx, args.name)
    results = domain_check(domain=domain)
    out = domain_out(domain)
    out["records"] = [{**r.record.as_dict(), "status": r.status} for r in results]
    return out


@tool(
    "delete_domain",
    "Delete a domain with all its mailboxes (and their mail) and aliases. Irreversible; "
    "`confirm` must repeat the domain name.",
    DomainDelete,
    destructive=True,
)
def delete_domain(ctx: Context, args: DomainDelete) -> dict:
    services.domain_delete(
        actor=ctx.actor, organization=ctx.organization, name=args.name, confirm=args.confirm
    )
    return {"deleted": args.name}


# -- mailboxes ---------------------------------------------------------------------


@tool(
    "list_mailboxes",
    "Mailboxes, optionally of one domain or matching a search.",
    Listing,
    read_only=True,
)
def list_mailboxes(ctx: Context, args: Listing) -> dict:
    rows = selectors.mailbox_list(
        organization=ctx.organization, domain=args.domain, search=args.search
    )
    page = rows[args.offset : args.offset + args.limit]
    return {"count": rows.count(), "mailboxes": [mailbox_out(m, ctx.organization) for m in page]}


@tool(
    "create_mailbox",
    "Create a mailbox under a verified domain, within the plan's limits. Without a password one "
    "is generated and returned once in `password`.",
    MailboxCreate,
)
def create_mailbox(ctx: Context, args: MailboxCreate) -> dict:
    mailbox, password = services.mailbox_create(
        actor=ctx.actor,
        organization=ctx.organization,
        address=args.address,
        password=args.password,
        password_hash=args.password_hash,
        quota_mb=args.quota_mb,
        name=args.name,
    )
    return {
        **mailbox_out(mailbox, ctx.organization),
        "password": None if (args.password or args.password_hash) else password,
    }


@tool(
    "update_mailbox",
    "Change a mailbox's password, quota, display name or active state; "
    "omitted fields stay as they are.",
    MailboxUpdate,
)
def update_mailbox(ctx: Context, args: MailboxUpdate) -> dict:
    mailbox = services.mailbox_update(
        actor=ctx.actor,
        organization=ctx.organization,
        address=args.address,
        password=args.password,
        password_hash=args.password_hash,
        quota_mb=args.quota_mb,
        name=args.name,
        enabled=args.active,
    )
    return mailbox_out(mailbox, ctx.organization)


@tool(
    "delete_mailbox", "Delete a mailbox and all its mail. Irreversible.", Address, destructive=True
)
def delete_mailbox(ctx: Context, args: Address) -> dict:
    services.mailbox_delete(actor=ctx.actor, organization=ctx.organization, address=args.address)
    return {"deleted": args.address}


# -- aliases -----------------------------------------------------------------------


@tool(
    "list_aliases",
    "Aliases (forwarding addresses), optionally of one domain or matching a search.",
    Listing,
    read_only=True,
)
def list_aliases(ctx: Context, args: Listing) -> dict:
    rows = selectors.alias_list(
        organization=ctx.organization, domain=args.domain, search=args.search
    )
    page = rows[args.offset : args.offset + args.limit]
    return {"count": rows.count(), "aliases": [alias_out(a) for a in page]}


@tool("create_alias", "Create an alias that forwards to one or more addresses.", AliasCreate)
def create_alias(ctx: Context, args: AliasCreate) -> dict:
    alias = services.alias_create(
        actor=ctx.actor,
        organization=ctx.organization,
        address=args.address,
        goto=args.goto,
        enabled=args.active,
    )
    return alias_out(alias)


@tool("update_alias", "Change an alias's destinations or active state.", AliasUpdate)
def update_alias(ctx: Context, args: AliasUpdate) -> dict:
    alias = services.alias_update(
        actor=ctx.actor,
        organization=ctx.organization,
        address=args.address,
        goto=args.goto,
        enabled=args.active,
    )
    return alias_out(alias)


@tool("delete_alias", "Delete an alias.", Address, destructive=True)
def delete_alias(ctx: Context, args: Address) -> dict:
    services.alias_delete(actor=ctx.actor, organization=ctx.organization, address=args.address)
    return {"deleted": args.address}


# -- app passwords -----------------------------------------------------------------


class AppPasswordCreate(Args):
    address: str = Field(..., description="The mailbox's email address")
    name: str = Field(..., description="The app or device that will use it, e.g. Thunderbird")
    protocols: list[str] = Field(
        ["imap", "smtp"],
        description="Any of imap, smtp, pop3, dav (CalDAV/CardDAV), eas (ActiveSync), sieve",
    )


class AppPasswordDelete(Args):
    address: str = Field(..., description="The mailbox's email address")
    id: int = Field(..., description="The app password's id (from list_app_passwords)")


@tool(
    "create_app_password",
    "Create a password for one mail app on a mailbox (needed for mail apps when the mailbox uses "
    "single sign-on). The password is returned once in `password`.",
    AppPasswordCreate,
)
def create_app_password(ctx: Context, args: AppPasswordCreate) -> dict:
    from mailherd.webmail import app_passwords

    row, password = app_passwords.app_password_create(
        actor=ctx.actor,
        organization=ctx.organization,
        address=args.address,
        name=args.name,
        protocols=args.protocols,
    )
    return app_passwords.app_password_out(row, password)


@tool(
    "list_app_passwords",
    "A mailbox's app passwords (names and protocols, never the passwords).",
    Address,
    read_only=True,
)
def list_app_passwords(ctx: Context, args: Address) -> dict:
    from mailherd.webmail import app_passwords

    rows = app_passwords.app_password_list(organization=ctx.organization, address=args.address)
    return {"app_passwords": [app_passwords.app_password_out(row) for row in rows]}


@tool(
    "delete_app_password",
    "Revoke an app password: the app using it can no longer sign in.",
    AppPasswordDelete,
    destructive=True,
)
def delete_app_password(ctx: Context, args: AppPasswordDelete) -> dict:
    from mailherd.webmail import app_passwords

    app_passwords.app_password_delete(
        actor=ctx.actor,
        organization=ctx.organization,
        address=args.address,
        app_password_id=args.id,
    )


# -- sending limits ------------------------------------------------------------------


class RateLimitArg(BaseModel):
    value: int = Field(..., ge=1, description="Messages per frame")
    frame: str = Field("h", description="s (second), m (minute), h (hour) or d (day)")


class MailboxRateLimit(Args):
    address: str = Field(..., description="The mailbox's email address")
    rate_limit: RateLimitArg | None = Field(
        ...,
        description="The mailbox's outbound limit (at most the plan's); null for the plan's default",
    )


class DomainRateLimit(Args):
    name: str = Field(..., description="Domain name")
    rate_limit: RateLimitArg | None = Field(
        ...,
        description="The domain's outbound limit (at most the plan's); null for the plan's default",
    )


@tool(
    "set_mailbox_rate_limit",
    "Limit how many messages a mailbox may send per second, minute, "
    "hour or day (at most the plan's default), or go back to the plan's default.",
    MailboxRateLimit,
)
def set_mailbox_rate_limit(ctx: Context, args: MailboxRateLimit) -> dict:
    from mailherd.hosting.services.ratelimits import mailbox_rate_limit_set

    mailbox = mailbox_rate_limit_set(
        actor=ctx.actor,
        organization=ctx.organization,
        address=args.address,
        rate_limit=args.rate_limit,
    )
    return mailbox_out(mailbox, ctx.organization)


@tool(
    "set_domain_rate_limit",
    "Limit how many messages a whole domain may send per frame "
    "(at most the plan's default), or go back to the plan's default.",
    DomainRateLimit,
)
def set_domain_rate_limit(ctx: Context, args: DomainRateLimit) -> dict:
    from mailherd.hosting.services.ratelimits import domain_rate_limit_set

    domain_rate_limit_set(
        actor=ctx.actor, organization=ctx.organization, name=args.name, rate_limit=args.rate_limit
    )
    return domain_out(_domain(ctx, args.name))


class DomainRelay(Args):
    name: str = Field(..., description="Domain name")
    relay: str | None = Field(
        ..., description="Smarthost name (if the plan allows one per domain); null: the server's default"
    )


@tool("set_domain_relay", "Send a domain's outgoing mail through a named smarthost, or back through "
      "the server's default; the domain's DNS records change with it.", DomainRelay)
def set_domain_relay(ctx: Context, args: DomainRelay) -> dict:
    from mailherd.hosting.services.relays import domain_relay_set

    domain_relay_set(actor=ctx.actor, organization=ctx.organization, name=args.name, relay=args.relay)
    return domain_out(_domain(ctx, args.name))


# -- quarantine and IMAP migration -----------------------------------------------------


class QuarantineListing(Args):
    mailbox: str | None = Field(None, description="Only messages held for this address")


class QuarantineItemArg(Args):
    id: str = Field(..., description="The message id from list_quarantine")


class QuarantineRelease(QuarantineItemArg):
    learn_ham: bool = Field(False, description="Also teach the spam filter that this was good mail")


class SyncJobCreate(Args):
    mailbox: str = Field(..., description="One of the organization's mailboxes: where the mail goes")
    host: str = Field(..., description="The old IMAP server")
    port: int | None = Field(None, description="Default 993 for ssl, 143 otherwise")
    security: str = Field("ssl", description="ssl, starttls or plain")
    user: str = Field(..., description="User name on the old server")
    password: str = Field(..., description="Password on the old server")


class SyncJobId(Args):
    id: int = Field(..., description="The import's id")


def _plain(data: dict) -> dict:
    """Dates as ISO strings, as tool results carry JSON only."""
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


@tool("list_quarantine", "Messages the spam filter held for the organization's addresses.",
      QuarantineListing, read_only=True)
def list_quarantine(ctx: Context, args: QuarantineListing) -> dict:
    from mailherd.hosting.quarantine import quarantine_list

    return {"messages": [m.as_dict() for m in quarantine_list(organization=ctx.organization, mailbox=args.mailbox)]}


@tool("preview_quarantined", "Headers and text of one held message.", QuarantineItemArg, read_only=True)
def preview_quarantined(ctx: Context, args: QuarantineItemArg) -> dict:
    from mailherd.hosting.quarantine import quarantine_preview

    return quarantine_preview(organization=ctx.organization, item_id=args.id)


@tool("release_quarantined", "Deliver a held message to its recipient.", QuarantineRelease)
def release_quarantined(ctx: Context, args: QuarantineRelease) -> dict:
    from mailherd.hosting.quarantine import quarantine_release

    return quarantine_release(actor=ctx.actor, organization=ctx.organization, item_id=args.id,
                              learn_ham=args.learn_ham).as_dict()


@tool("delete_quarantined", "Delete a held message for good.", QuarantineItemArg, destructive=True)
def delete_quarantined(ctx: Context, args: QuarantineItemArg) -> dict:
    from mailherd.hosting.quarantine import quarantine_delete

    return quarantine_delete(actor=ctx.actor, organization=ctx.organization, item_id=args.id).as_dict()


@tool("create_sync_job", "Import mail from another provider's IMAP server into a mailbox; the login "
      "is tested first.", SyncJobCreate)
def create_sync_job(ctx: Context, args: SyncJobCreate) -> dict:
    from mailherd.hosting.api_depth import sync_job_out
    from mailherd.hosting.services.syncjobs import SourceMailbox, sync_job_create

    job = sync_job_create(actor=ctx.actor, organization=ctx.organization, source=SourceMailbox(
        mailbox=args.mailbox, host=args.host, port=args.port, security=args.security,
        user=args.user, password=args.password))
    return _plain(sync_job_out(job))


@tool("get_sync_job", "An import's progress and the last run's result.", SyncJobId, read_only=True)
def get_sync_job(ctx: Context, args: SyncJobId) -> dict:
    from mailherd.hosting.api_depth import sync_job_out
    from mailherd.hosting.selectors import sync_job_get
    from mailherd.hosting.services.syncjobs import sync_job_refresh

    job = sync_job_get(organization=ctx.organization, job_id=args.id)
    if job is None:
        raise NotFound(f"No import {args.id} in this organization.")
    return _plain(sync_job_out(sync_job_refresh(job=job)))


@tool("delete_sync_job", "Stop an import and forget the old password.", SyncJobId, destructive=True)
def delete_sync_job(ctx: Context, args: SyncJobId) -> dict:
    from mailherd.hosting.services.syncjobs import sync_job_delete

    sync_job_delete(actor=ctx.actor, organization=ctx.organization, job_id=args.id)
    return {"deleted": args.id}


# -- the mailbox user's own settings ---------------------------------------------------------


class MailboxForwarding(Args):
    address: str = Field(..., description="The mailbox's email address")
    targets: list[str] = Field(..., description="Up to five addresses; empty switches forwarding off")
    keep_copy: bool = Field(True, description="Keep a copy in the mailbox too")


class MailboxProtocols(Args):
    address: str = Field(..., description="The mailbox's email address")
    imap: bool | None = None
    pop3: bool | None = None
    smtp: bool | None = None
    sieve: bool | None = None
    sogo: bool | None = Field(None, description="Webmail")


class MailboxSpamLevel(Args):
    address: str = Field(..., description="The mailbox's email address")
    level: str = Field(..., description='"strict", "default" or "relaxed"')


@tool("set_mailbox_forwarding", "Forward a mailbox's mail to other addresses, keeping a copy or not; "
      "an empty list stops forwarding.", MailboxForwarding, idempotent=True)
def set_mailbox_forwarding(ctx: Context, args: MailboxForwarding) -> dict:
    from mailherd.webmail import selfservice

    row = selfservice.forwarding_set(actor=ctx.actor, organization=ctx.organization,
                                     address=args.address, targets=args.targets, keep_copy=args.keep_copy)
    return {"address": args.address, "targets": row.targets, "keep_copy": row.keep_copy}


@tool("set_mailbox_protocols", "Switch a mailbox's IMAP, POP3, SMTP, Sieve or webmail access on (true) "
      "or off (false); protocols left out keep their setting.", MailboxProtocols, idempotent=True)
def set_mailbox_protocols(ctx: Context, args: MailboxProtocols) -> dict:
    from mailherd.webmail import selfservice

    wanted = args.model_dump(exclude_none=True, exclude={"address"})
    mailbox = selfservice.mailbox_protocols_set(actor=ctx.actor, organization=ctx.organization,
                                                address=args.address, protocols=wanted)
    return {"address": mailbox.address, "protocols": selfservice.mailbox_protocols(mailbox)}


@tool("set_mailbox_spam_level", "Set how readily a mailbox's mail counts as spam: strict, default or "
      "relaxed.", MailboxSpamLevel, idempotent=True)
def set_mailbox_spam_level(ctx: Context, args: MailboxSpamLevel) -> dict:
    from mailherd.webmail import selfservice

    mailbox = selfservice.mailbox_spam_level_set(actor=ctx.actor, organization=ctx.organization,
                                                 address=args.address, level=args.level)
    return {"address": mailbox.address, "level": selfservice.spam_level_of(mailbox),
            "low": mailbox.spam_low, "high": mailbox.spam_high}


# -- alias domains and a domain's allow/block lists ------------------------------------------


class AliasDomainCreate(Args):
    name: str = Field(..., description="The alias domain, e.g. example.net")
    target: str = Field(..., description="One of the organization's verified domains")


class DomainName(Args):
    name: str = Field(..., description="Domain name")


class DomainPolicyAdd(Args):
    name: str = Field(..., description="Domain name")
    list: str = Field(..., description='"allow" (always accept) or "block" (always refuse)')
    sender: str = Field(..., description="An address, a domain, or a pattern with * (*@example.com)")


class DomainPolicyDelete(Args):
    name: str = Field(..., description="Domain name")
    id: int = Field(..., description="The entry's id (from list_domain_policy)")


@tool("create_alias_domain", "Make a domain an alias of a verified domain: every address of the target "
      "also receives there once the alias domain's TXT record is verified (verify_domain). Counts as a "
      "domain of the plan.", AliasDomainCreate, scope="alias_domains")
def create_alias_domain(ctx: Context, args: AliasDomainCreate) -> dict:
    from mailherd.hosting.services.aliasdomains import alias_domain_add

    domain = alias_domain_add(actor=ctx.actor, organization=ctx.organization, name=args.name,
                              target=args.target)
    return {**domain_out(domain), "target": domain.alias_of.name}


@tool("list_alias_domains", "The organization's alias domains with their targets and status.", Args,
      read_only=True, scope="alias_domains")
def list_alias_domains(ctx: Context, args: Args) -> dict:
    from mailherd.hosting.services.aliasdomains import alias_domain_list

    return {"alias_domains": [
        {"name": d.name, "target": d.alias_of.name, "status": d.status}
        for d in alias_domain_list(organization=ctx.organization)
    ]}


@tool("list_domain_policy", "A domain's allow list (always accepted senders) and block list (always "
      "refused).", DomainName, read_only=True, scope="domains")
def list_domain_policy(ctx: Context, args: DomainName) -> dict:
    from mailherd.hosting.services import policies

    if selectors.domain_get(organization=ctx.organization, name=args.name) is None:
        raise NotFound("No such domain.")
    rows = policies.policy_list(organization=ctx.organization, name=args.name.lower())
    return {"entries": [policies.policy_out(e) for e in rows]}


@tool("add_domain_policy", "Put a sender on a domain's allow list or block list.", DomainPolicyAdd,
      scope="domains")
def add_domain_policy(ctx: Context, args: DomainPolicyAdd) -> dict:
    from mailherd.hosting.services import policies

    entry = policies.domain_policy_add(actor=ctx.actor, organization=ctx.organization, name=args.name,
                                       list_name=args.list, sender=args.sender)
    return policies.policy_out(entry)


@tool("delete_domain_policy", "Take a sender off a domain's allow or block list.", DomainPolicyDelete,
      destructive=True, scope="domains")
def delete_domain_policy(ctx: Context, args: DomainPolicyDelete) -> dict:
    from mailherd.hosting.services import policies

    policies.domain_policy_delete(actor=ctx.actor, organization=ctx.organization, name=args.name,
                                  entry_id=args.id)
    return {"deleted": args.id}
