"""Mailboxes: create within the plan, change, enable/disable, delete."""

import secrets
from dataclasses import dataclass, field

from django.db import connection, transaction

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_event, audit_record
from mailherd.core.errors import MailherdError, NotFound, ValidationFailed
from mailherd.core.models import AuditEvent
from mailherd.hosting.errors import AddressInUse, DomainNotVerified
from mailherd.hosting.models import Alias, Domain, Mailbox, ProvisioningOp, SyncStatus
from mailherd.hosting.passwords import InvalidPasswordHash, clean_password_hash, hash_many
from mailherd.hosting.selectors import address_in_use
from mailherd.hosting.services.limits import (
    check_limit,
    ensure_writable,
    writable_organization_lock,
)
from mailherd.hosting.services.outbox import enqueue, enqueue_many, outbox_row
from mailherd.hosting.validation import check_password_policy, split_address
from mailherd.plans.selectors import organization_usage_counts
from mailherd.tenancy.locks import organization_row_lock
from mailherd.webhooks.payloads import mailbox_data
from mailherd.webhooks.services import event_emit, events_emit

DEFAULT_QUOTA_MB = 1024
MAX_NAME_LENGTH = 255


def generate_password() -> str:
    """A password that meets the policy: 20 URL-safe characters."""
    return secrets.token_urlsafe(15)


def mailbox_key(address: str) -> str:
    return f"mailbox:{address}"


def _clean_quota(quota_mb) -> int:
    try:
        quota = int(quota_mb)
    except (TypeError, ValueError):
        raise ValidationFailed("The quota must be a whole number of MiB.", field="quota_mb")
    if quota < 1:
        raise ValidationFailed("The quota must be at least 1 MiB.", field="quota_mb")
    return quota


def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed(
            f"The display name can have at most {MAX_NAME_LENGTH} characters.", field="name"
        )
    return name


def _usable_domain(organization, domain_name: str) -> Domain:
    domain = Domain.objects.filter(organization=organization, name=domain_name).first()
    if domain is None:
        raise NotFound(
            f"{domain_name} is not one of your domains. Add and verify it first.", field="address"
        )
    if not domain.is_verified:
        raise DomainNotVerified(
            f"{domain.unicode_name} is not verified yet: publish its TXT record and verify the"
            " domain on its page first.",
            field="address",
        )
    if domain.alias_of_id:
        target = domain.alias_of.unicode_name
        raise ValidationFailed(
            f"{domain.unicode_name} is an alias domain of {target}: every address of {target} already"
            f" receives here. Create the address at {target}.",
            field="address",
        )
    return domain


def ensure_address_free(address: str) -> None:
    """An address is never both a mailbox and an alias (nor two of either)."""
    kind = address_in_use(address)
    if kind:
        raise AddressInUse(
            f"{address} is already {'a mailbox' if kind == 'mailbox' else 'an alias'}.",
            field="address",
        )


@dataclass
class MailboxRequest:
    """One mailbox to create, as a customer gave it (validated by the service)."""

    address: str
    password: str | None = None
    quota_mb: object = None
    name: str = ""
    password_hash: str | None = None  # a {SCHEME} hash instead of a password (moving in)


@dataclass
class MailboxOutcome:
    request: MailboxRequest
    mailbox: Mailbox | None = None
    password: str = ""  # generated passwords only, to show once
    error: MailherdError | None = None
    password_hash: str = field(default="", repr=False)


def _clean_hash(value: str) -> str:
    try:
        return clean_password_hash(value)
    except InvalidPasswordHash as exc:
        raise ValidationFailed(str(exc), field="password_hash")


def _credentials(request: MailboxRequest, *, address: str) -> tuple[str, str]:
    """(plaintext to hash or "", hash given) after the policy checks; a generated password is set on the request."""
    if request.password and request.password_hash:
        raise ValidationFailed("Give either a password or a password_hash, not both.", field="password_hash")
    if request.password_hash:
        return "", _clean_hash(request.password_hash)
    password = request.password or generate_password()
    check_password_policy(password, address=address)
    return password, ""


def hash_requests(requests: list[MailboxRequest], *, raise_errors: bool = False) -> list[MailboxOutcome]:
    """Check every request's password and hash it, in parallel and outside any lock.

    bcrypt is the expensive part of a create (tens of ms per password), so it
    runs before the organization lock is taken; a refused item gets its error
    here and is skipped later.
    """
    outcomes, plaintexts = [], []
    for request in requests:
        outcome = MailboxOutcome(request=request)
        try:
            local, domain_name = split_address(request.address)
            plaintext, given_hash = _credentials(request, address=f"{local}@{domain_name}")
        except MailherdError as error:
            if raise_errors:
                raise
            outcome.error = error
        else:
            outcome.password_hash = given_hash
            if plaintext:
                outcome.password = "" if request.password else plaintext
                plaintexts.append((outcome, plaintext))
        outcomes.append(outcome)
    for (outcome, _plaintext), hashed in zip(plaintexts, hash_many([p for _o, p in plaintexts]), strict=True):
        outcome.password_hash = hashed
    return outcomes


MAX_BATCH = 500


def mailbox_create(
    *,
    actor: Actor,
    organization,
    address: str,
    password: str | None = None,
    quota_mb=None,
    name: str = "",
    password_hash: str | None = None,
) -> tuple[Mailbox, str]:
    """Create a mailbox; return it with its password (generated if neither a password nor a hash was given, shown once)."""
    request = MailboxRequest(
        address=address, password=password, quota_mb=quota_mb, name=name, password_hash=password_hash
    )
    [outcome] = mailbox_create_many(actor=actor, organization=organization, requests=[request], raise_errors=True)
    return outcome.mailbox, outcome.password or password


def mailbox_create_many(
    *, actor: Actor, organization, requests: list[MailboxRequest], raise_errors: bool = False
) -> list[MailboxOutcome]:
    """Create many mailboxes under one organization lock; each is refused or created on its own.

    Passwords are checked and hashed first, in parallel and without the lock,
    and the domains are read. Then, under the lock, every item is checked by
    the same rules (domain still usable, plan limits against the usage the
    earlier items left, address not taken) and all accepted items are written
    with three statements. A refused item leaves no trace and does not stop the
    others (with `raise_errors`, the first refusal is raised instead).
    """
    if len(requests) > MAX_BATCH:
        raise ValidationFailed(f"Send at most {MAX_BATCH} mailboxes at once.", field="mailboxes")
    outcomes = hash_requests(requests, raise_errors=raise_errors)
    pending = [o for o in outcomes if o.error is None]
    domains = _domains_read(organization, pending)  # before the lock: less time under it
    with transaction.atomic():
        _create_locked(actor, organization, pending, domains=domains, raise_errors=raise_errors)
    return outcomes


def _domains_read(organization, outcomes: list[MailboxOutcome]) -> dict[str, Domain]:
    """The requests' domains of this organization by name (one query, outside the lock)."""
    names = set()
    for outcome in outcomes:
        try:
            names.add(split_address(outcome.request.address)[1])
        except MailherdError:
            pass  # refused with its own message in _prepare
    if not names:
        return {}
    found = (
        Domain.objects.filter(organization=organization, name__in=names)
        # What a new mailbox reads of its domain; the rest loads if ever asked for.
        .only("id", "organization_id", "name", "status", "verified_at", "alias_of_id", "mail_server_id")
    )
    return {domain.name: domain for domain in found}


def _create_locked(
    actor: Actor, organization, outcomes: list[MailboxOutcome], *, domains: dict, raise_errors: bool
) -> None:
    """The part under the organization lock: the limit checks and the inserts."""
    organization = writable_organization_lock(organization_id=organization.pk)
    counts = organization_usage_counts(organization=organization, names=("mailboxes", "storage_mb"))
    fresh = _fresh_state(organization, [o.request for o in outcomes], domains.values())
    usable = {name: domain for name, domain in domains.items() if name in fresh.usable_domains}
    for outcome in outcomes:
        try:
            outcome.mailbox = _prepare(organization, outcome, domains=usable, counts=counts, taken=fresh.taken)
        except MailherdError as error:
            if raise_errors:
                raise
            outcome.error, outcome.password = error, ""
    accepted = [o for o in outcomes if o.error is None]
    if not accepted:
        return
    if fresh.signs_in_with_sso:
        for outcome in accepted:
            # No mailbox password: the portal signs in, mail apps use app passwords.
            outcome.mailbox.sso, outcome.password = True, ""
    Mailbox.objects.bulk_create([o.mailbox for o in accepted])
    enqueue_many([
        outbox_row(kind=ProvisioningOp.Kind.MAILBOX_CREATE, object_key=mailbox_key(o.mailbox.address),
                   organization=organization, domain_name=o.mailbox.domain.name)
        for o in accepted
    ])
    AuditEvent.objects.bulk_create([
        audit_event(actor=actor, action="mailbox.create", organization=organization, obj=o.mailbox,
                    data={"quota_mb": o.mailbox.quota_mb, "generated_password": bool(o.password),
                          "password_hash_given": bool(o.request.password_hash)})
        for o in accepted
    ])
    if fresh.has_webhook_endpoints:
        events_emit(organization=organization, events=[
            ("mailbox.created", mailbox_data(o.mailbox), mailbox_key(o.mailbox.address))
            for o in accepted
        ])
    with_rules = [o.mailbox for o in accepted if o.mailbox.domain.name in fresh.domains_with_rules]
    if with_rules:
        from mailherd.rules.services import rules_mailboxes_created

        rules_mailboxes_created(with_rules)  # a domain's rules reach them too


@dataclass
class _FreshState:
    taken: set[str]  # requested addresses already a mailbox or an alias
    usable_domains: set[str]  # of the domains read before the lock, those still verified and not an alias domain
    domains_with_rules: set[str]
    has_webhook_endpoints: bool
    signs_in_with_sso: bool  # the organization's mail sign-in mode is single sign-on


def _fresh_state(organization, requests: list[MailboxRequest], domains) -> _FreshState:
    """Everything a create reads under the lock besides the usage counts, in one round trip.

    Written as SQL: the ORM took 1.5 ms of CPU to build this union on every create, more than
    the statement costs the database (see bench/provisioning.py).
    """
    from mailherd.rules.models import Rule
    from mailherd.webhooks.models import WebhookEndpoint
    from mailherd.webmail.models import OrganizationWebmail

    candidates = sorted({(r.address or "").strip().lower() for r in requests})
    domain_ids = [domain.pk for domain in domains]
    parts, params = [], []
    if candidates:
        parts += [
            "SELECT 'taken', address FROM {mailbox} WHERE address IN ({candidates})",
            "SELECT 'taken', address FROM {alias} WHERE address IN ({candidates})",
        ]
        params += candidates + candidates
    if domain_ids:
        parts += [
            "SELECT 'usable', name FROM {domain} WHERE id IN ({domain_ids})"
            " AND verified_at IS NOT NULL AND alias_of_id IS NULL",
            "SELECT 'rules', d.name FROM {rule} r JOIN {domain} d ON d.id = r.domain_id"
            " WHERE r.domain_id IN ({domain_ids})",
        ]
        params += domain_ids + domain_ids
    parts += [
        "SELECT 'webhooks', NULL FROM {webhook} WHERE organization_id = %s",
        "SELECT 'sso', NULL FROM {webmail} WHERE organization_id = %s AND sign_in_mode = %s",
    ]
    params += [organization.pk, organization.pk, OrganizationWebmail.SignInMode.SSO]
    statement = " UNION ALL ".join(parts).format(  # noqa: S608 - table names from the models; values are parameters
        mailbox=Mailbox._meta.db_table,
        alias=Alias._meta.db_table,
        domain=Domain._meta.db_table,
        rule=Rule._meta.db_table,
        webhook=WebhookEndpoint._meta.db_table,
        webmail=OrganizationWebmail._meta.db_table,
        candidates=", ".join(["%s"] * len(candidates)),
        domain_ids=", ".join(["%s"] * len(domain_ids)),
    )
    by_kind: dict[str, set] = {"taken": set(), "usable": set(), "rules": set(), "webhooks": set(), "sso": set()}
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        for kind, value in cursor.fetchall():
            by_kind[kind].add(value)
    return _FreshState(
        taken=by_kind["taken"],
        usable_domains=by_kind["usable"],
        domains_with_rules=by_kind["rules"],
        has_webhook_endpoints=bool(by_kind["webhooks"]),
        signs_in_with_sso=bool(by_kind["sso"]),
    )


def _prepare(organization, outcome: MailboxOutcome, *, domains: dict, counts: dict, taken: set) -> Mailbox:
    """Check one request against every rule and build its (unsaved) mailbox; count it as used."""
    request = outcome.request
    local, domain_name = split_address(request.address)
    address = f"{local}@{domain_name}"
    quota = _clean_quota(request.quota_mb) if request.quota_mb not in (None, "") else None
    name = _clean_name(request.name)
    if domain_name not in domains:
        # Not one of the organization's usable domains when read: say why (it may be usable now)
        domains[domain_name] = _usable_domain(organization, domain_name)
    domain = domains[domain_name]
    # A taken address is named before any plan limit: retrying it would never help.
    if address in taken:
        ensure_address_free(address)  # says which: mailbox or alias
        raise AddressInUse(f"{address} is already a mailbox.", field="address")  # taken earlier in this batch
    check_limit(organization, "mailboxes", counts=counts)
    if quota is None:
        left = organization.plan.max_storage_mb - counts["storage_mb"]
        quota = min(DEFAULT_QUOTA_MB, left) if left > 0 else DEFAULT_QUOTA_MB
    check_limit(organization, "storage_mb", requested=quota, counts=counts)
    taken.add(address)
    counts["mailboxes"] += 1
    counts["storage_mb"] += quota
    return Mailbox(
        organization=organization, domain=domain, local_part=local, address=address, name=name, quota_mb=quota,
        password_hash=outcome.password_hash,
    )


def _member_by_email(organization, email: str):
    """The organization's member with this email (None for ""), or a clear error."""
    from mailherd.tenancy.models import Membership

    email = (email or "").strip().lower()
    if not email:
        return None
    membership = Membership.objects.select_related("user").filter(organization=organization, user__email=email).first()
    if membership is None:
        raise ValidationFailed(
            f"{email} is not a member of this organization: invite them first (as a mailbox user if they should see only their mailboxes).",
            field="user",
        )
    return membership.user


def _locked_mailbox(organization, address: str):
    organization, mailbox = organization_row_lock(
        organization_id=organization.pk, model=Mailbox, label="mailbox", address=address
    )
    ensure_writable(organization)
    return organization, mailbox


def mailbox_update(
    *,
    actor: Actor,
    organization,
    address: str,
    password: str | None = None,
    quota_mb=None,
    name: str | None = None,
    enabled: bool | None = None,
    password_hash: str | None = None,
    user: str | None = None,
    sso: bool | None = None,
) -> Mailbox:
    """Change any of password (or its hash), quota (within the plan's storage), display name, enabled,
    the member who uses it (`user`: a member's email, "" for nobody) and single sign-on."""
    generated = ""
    if sso is False and not (password or password_hash):
        current = Mailbox.objects.filter(organization=organization, address=(address or "").strip().lower()).first()
        if current is not None and current.sso:
            # Mailcow keeps a random hash from the switch to sso: give the mailbox a usable password.
            generated = password = generate_password()
    new_hash = ""
    if password or password_hash:
        # Hashed before any lock is taken (see hash_requests).
        [outcome] = hash_requests(
            [MailboxRequest(address=address, password=password or None, password_hash=password_hash or None)],
            raise_errors=True,
        )
        new_hash = outcome.password_hash
    mailbox = _mailbox_update_locked(actor=actor, organization=organization, address=address, new_hash=new_hash,
                                     quota_mb=quota_mb, name=name, enabled=enabled, user=user, sso=sso)
    if generated and not mailbox.sso:
        mailbox.generated_password = generated  # shown once
    return mailbox


@transaction.atomic
def _mailbox_update_locked(*, actor, organization, address, new_hash, quota_mb, name, enabled, user=None,
                           sso=None) -> Mailbox:
    organization, mailbox = _locked_mailbox(organization, address)
    if mailbox.is_system:  # the forms send every field: only a change is refused
        if quota_mb is not None and _clean_quota(quota_mb) != mailbox.quota_mb:
            raise ValidationFailed("This is a platform address: its size is set by the platform.", field="quota_mb")
        if user is not None and getattr(_member_by_email(organization, user), "pk", None) != mailbox.user_id:
            raise ValidationFailed(
                "This is a platform address: it always belongs to the member it was given to.", field="user"
            )
    changes: dict = {}
    payload: dict = {}
    if user is not None:
        person = _member_by_email(organization, user)
        if (person.pk if person else None) != mailbox.user_id:
            mailbox.user = person
            changes["user"] = person.email if person else ""
    if sso is not None and bool(sso) != mailbox.sso:
        changes["sso"] = bool(sso)
        payload["sso_switch"] = "on" if sso else "off"
    if quota_mb is not None:
        quota = _clean_quota(quota_mb)
        if quota > mailbox.quota_mb:
            check_limit(
                organization,
                "storage_mb",
                requested=quota - mailbox.quota_mb,
                counts=organization_usage_counts(organization=organization, names=("storage_mb",)),
            )
        if quota != mailbox.quota_mb:
            changes["quota_mb"] = quota
    if name is not None and _clean_name(name) != mailbox.name:
        changes["name"] = _clean_name(name)
    if enabled is not None and bool(enabled) != mailbox.enabled:
        changes["enabled"] = bool(enabled)
    if new_hash and mailbox.sso and "sso" not in changes:
        raise ValidationFailed(
            "This mailbox signs in through the portal and has no password: use an app password for mail apps.",
            field="password",
        )
    if not changes and not new_hash:
        return mailbox
    if set(changes) == {"user"} and not new_hash:  # who reads it is Mailherd's own business
        mailbox.save(update_fields=["user", "updated_at"])
        audit_record(actor=actor, action="mailbox.update", organization=organization, obj=mailbox, data=changes)
        return mailbox
    for attribute, value in changes.items():
        if attribute != "user":
            setattr(mailbox, attribute, value)
    if new_hash:
        mailbox.password_hash = new_hash
        payload["password_changed"] = True
    mailbox.sync_status = SyncStatus.PENDING
    mailbox.save()
    enqueue(
        kind=ProvisioningOp.Kind.MAILBOX_UPDATE,
        object_key=mailbox_key(mailbox.address),
        organization=organization,
        domain_name=mailbox.domain.name,
        payload=payload or None,
    )
    audit_record(
        actor=actor,
        action="mailbox.update",
        organization=organization,
        obj=mailbox,
        data={**changes, "password_changed": bool(new_hash)},
    )
    event_emit(
        organization=organization,
        event_type="mailbox.updated",
        data=mailbox_data(
            mailbox, changed=sorted(changes) + (["password"] if new_hash else [])
        ),
        object_key=mailbox_key(mailbox.address),
    )
    return mailbox


@transaction.atomic
def mailbox_delete(*, actor: Actor, organization, address: str) -> None:
    """Delete a mailbox and its mail (on the server, once the outbox applies it)."""
    organization, mailbox = _locked_mailbox(organization, address)
    if mailbox.is_system:
        raise ValidationFailed(
            "This is a platform address: it is removed on its own some days after its member leaves.",
            field="address",
        )
    enqueue(
        kind=ProvisioningOp.Kind.MAILBOX_DELETE,
        object_key=mailbox_key(mailbox.address),
        organization=organization,
        domain_name=mailbox.domain.name,
    )
    audit_record(actor=actor, action="mailbox.delete", organization=organization, obj=mailbox)
    event_emit(
        organization=organization,
        event_type="mailbox.deleted",
        data=mailbox_data(mailbox),
        object_key=mailbox_key(mailbox.address),
    )
    mailbox.delete()
