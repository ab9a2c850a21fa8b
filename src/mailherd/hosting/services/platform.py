"""Platform mailboxes: `<username>@<platform domain>` for every member of a paying organization.

The operator names one verified domain of their own as the platform domain
(`platform_domain_set`, back office or `mailherd platform_domain`). From then on,
each member of an organization whose subscription is live gets a mailbox there:

- owned by the member's paying organization (`Mailbox.organization`), so the
  organization's suspension reaches it exactly like its other mailboxes (the outbox
  worker derives Mailcow's active flag from that organization's stage), and only that
  organization's people see it; `is_system` keeps it out of the plan's counts;
- created through the outbox like every mailbox, with a random password (hashed
  here) the member changes on the mailbox page, or single sign-on when the
  organization signs in that way;
- when the member leaves or the subscription ends: `remove_at` is set
  (MAILHERD_PLATFORM_MAILBOX_GRACE_DAYS), the member is warned by email, and
  `platform_mailboxes_remove_due` (periodic) removes it then, unless the member is
  in a paying organization again by that time (then it moves there and stays).
"""

import re
import unicodedata
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import MailherdError, NotFound, PermissionDenied, ValidationFailed
from mailherd.hosting.models import Domain, Mailbox, ProvisioningOp, SyncStatus
from mailherd.hosting.passwords import hash_password
from mailherd.hosting.services.mailboxes import generate_password, mailbox_key
from mailherd.hosting.services.outbox import enqueue
from mailherd.hosting.validation import clean_local_part

USERNAME_MAX = 40


# -- the operator's setting ----------------------------------------------------


def platform_domain_get() -> Domain | None:
    return Domain.objects.filter(is_platform=True).select_related("organization").first()


def platform_domain_limits() -> dict:
    """Mailcow's limits of the platform domain: room for every member, not a customer plan's."""
    count = settings.MAILHERD_PLATFORM_DOMAIN_MAX_MAILBOXES
    quota = settings.MAILHERD_PLATFORM_MAILBOX_QUOTA_MB
    return {
        "quota_mib": count * quota,
        "max_mailbox_quota_mib": quota,
        "max_mailboxes": count,
        "max_aliases": count,
    }


@transaction.atomic
def platform_domain_set(*, actor: Actor, name: str) -> Domain | None:
    """Name the platform domain (operator only): a verified domain; "" clears the setting.

    Refused while the current platform domain still holds platform mailboxes (they
    would lose their address): the setting is chosen once.
    """
    if actor.kind != "system" and not (actor.user and actor.user.is_staff):
        raise PermissionDenied("Only the operator can choose the platform domain.")
    name = (name or "").strip().lower().rstrip(".")
    current = Domain.objects.select_for_update().filter(is_platform=True).first()
    if current is not None and current.name == name:
        return current
    if current is not None and Mailbox.objects.filter(domain=current, is_system=True).exists():
        raise ValidationFailed(
            f"{current.name} already holds platform addresses: it stays the platform domain.", field="name"
        )
    domain = None
    if name:
        domain = Domain.objects.select_for_update().filter(name=name, verified_at__isnull=False).first()
        if domain is None:
            raise NotFound(
                f"{name} is not a verified domain: add it to the operator's organization and verify it first.",
                field="name",
            )
        if domain.alias_of_id:
            raise ValidationFailed(f"{name} is an alias domain: choose the domain it points to.", field="name")
        if Mailbox.objects.filter(domain=domain).exists() or domain.aliases.exists():
            raise ValidationFailed(
                f"{name} already has mailboxes or aliases: choose a domain used for nothing else.", field="name"
            )
    if current is not None:
        current.is_platform = False
        current.save(update_fields=["is_platform", "updated_at"])
    if domain is not None:
        domain.is_platform = True
        domain.save(update_fields=["is_platform", "updated_at"])
        # Its limits on the server become the platform's own.
        enqueue(kind=ProvisioningOp.Kind.DOMAIN_UPDATE, object_key=f"domain:{domain.name}",
                organization=domain.organization, domain_name=domain.name)
    audit_record(
        actor=actor,
        action="platform_domain.set",
        organization=domain.organization if domain else None,
        obj=domain,
        data={"name": name, "previous": current.name if current else ""},
    )
    return domain


# -- who gets one ----------------------------------------------------------------


def organization_pays(organization) -> bool:
    """True while the organization's subscription gives service (trial, paid, or in dunning)."""
    from mailherd.billing.models import Subscription

    row = Subscription.objects.filter(organization=organization).only("status").first()
    return row is not None and row.is_live


def _paying_organization_of(user, *, exclude_id=None):
    from mailherd.tenancy.models import Membership

    for membership in (
        Membership.objects.filter(user=user).exclude(organization_id=exclude_id).select_related("organization")
    ):
        if organization_pays(membership.organization):
            return membership.organization
    return None


def _ascii_words(text: str) -> str:
    text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    return ".".join(re.findall(r"[a-z0-9]+", text))


def platform_username_check(value: str, *, user=None) -> str:
    """A username someone chose for their platform address: Mailcow's rules, lower case, free."""
    from mailherd.hosting.selectors import address_in_use
    from mailherd.tenancy.models import User

    value = (value or "").strip().lower()
    if len(value) > USERNAME_MAX:
        raise ValidationFailed(f"Use at most {USERNAME_MAX} characters.", field="mail_username")
    value = clean_local_part(value)
    if not re.fullmatch(r"[a-z0-9]([a-z0-9._-]*[a-z0-9])?", value):
        raise ValidationFailed(
            "Use letters, digits and . _ - only, starting and ending with a letter or a digit.",
            field="mail_username",
        )
    domain = platform_domain_get()
    taken = User.objects.filter(mail_username=value).exclude(pk=getattr(user, "pk", None)).exists()
    if taken or (domain is not None and address_in_use(f"{value}@{domain.name}")):
        raise ValidationFailed("This name is already taken: choose another.", field="mail_username")
    return value


def platform_username(user, domain: Domain) -> str:
    """The member's local part: the one they chose if still free, else from their name
    (`jane.doe`), else from their email's; made unique with a number."""
    from mailherd.hosting.selectors import address_in_use

    chosen = (user.mail_username or "").lower()
    if chosen and not address_in_use(f"{chosen}@{domain.name}"):
        return chosen
    base = _ascii_words(user.full_name) or _ascii_words(user.email.split("@", 1)[0]) or "member"
    base = base[:USERNAME_MAX].strip(".") or "member"
    base = clean_local_part(base)  # Mailcow's own rules: refused here rather than by the server
    candidate, number = base, 1
    while address_in_use(f"{candidate}@{domain.name}"):
        number += 1
        candidate = f"{base[: USERNAME_MAX - len(str(number))]}{number}"
    return candidate


def _signs_in_with_sso(organization) -> bool:
    from mailherd.webmail.selectors import organization_webmail

    return organization_webmail(organization).sign_in_mode == "sso"


def platform_mailboxes_ensure(*, organization, actor: Actor | None = None) -> list[Mailbox]:
    """Give every member of a paying organization their platform mailbox; return the new ones.

    Idempotent and cheap when nothing is missing (two queries). A member whose platform
    mailbox was waiting for removal keeps it: it moves to this organization. Call with
    the organization locked (billing's sync holds the lock).
    """
    from mailherd.tenancy.models import Membership

    domain = platform_domain_get()
    if domain is None or not organization_pays(organization):
        return []
    actor = actor or Actor.system()
    held = dict(Mailbox.objects.filter(is_system=True, user__memberships__organization=organization)
                .values_list("user_id", "pk"))
    missing = [
        m.user for m in Membership.objects.filter(organization=organization).select_related("user")
        if m.user_id not in held
    ]
    waiting = Mailbox.objects.filter(pk__in=held.values(), remove_at__isnull=False)
    for mailbox in waiting:
        _keep(mailbox, organization=organization, actor=actor)
    created = []
    for user in missing:
        try:
            with transaction.atomic():  # savepoint: a lost race leaves the caller's transaction usable
                created.append(_create(user, organization=organization, domain=domain, actor=actor))
        except IntegrityError:
            continue  # given concurrently (or its name taken a moment ago): the periodic pass settles it
        except MailherdError as error:  # e.g. a name Mailcow would refuse: the others still get theirs
            audit_record(actor=actor, action="platform_mailbox.refused", organization=organization,
                         obj=user, data={"error": error.message})
    return created


def _create(user, *, organization, domain: Domain, actor: Actor) -> Mailbox:
    local = platform_username(user, domain)
    sso = _signs_in_with_sso(organization)
    mailbox = Mailbox.objects.create(
        organization=organization, domain=domain, local_part=local, address=f"{local}@{domain.name}",
        name=(user.full_name or "")[:255], quota_mb=settings.MAILHERD_PLATFORM_MAILBOX_QUOTA_MB,
        password_hash="" if sso else hash_password(generate_password()), user=user, sso=sso, is_system=True,
    )
    enqueue(kind=ProvisioningOp.Kind.MAILBOX_CREATE, object_key=mailbox_key(mailbox.address),
            organization=organization, domain_name=domain.name)
    audit_record(actor=actor, action="platform_mailbox.create", organization=organization, obj=mailbox,
                 data={"user": user.email})
    return mailbox


def _keep(mailbox: Mailbox, *, organization, actor: Actor) -> None:
    """Cancel a pending removal; the mailbox now follows `organization`'s billing."""
    moved = mailbox.organization_id != organization.pk
    mailbox.remove_at = None
    mailbox.organization = organization
    mailbox.sync_status = SyncStatus.PENDING if moved else mailbox.sync_status
    mailbox.save(update_fields=["remove_at", "organization", "sync_status", "updated_at"])
    if moved:  # its active flag now follows the new organization's state
        enqueue(kind=ProvisioningOp.Kind.MAILBOX_UPDATE, object_key=mailbox_key(mailbox.address),
                organization=organization, domain_name=mailbox.domain.name)
    audit_record(actor=actor, action="platform_mailbox.keep", organization=organization, obj=mailbox,
                 data={"moved": moved})


# -- leaving -------------------------------------------------------------------------


def platform_mailboxes_release(
    *, organization, user=None, reason: str, actor: Actor | None = None, now: datetime | None = None
) -> list[Mailbox]:
    """The organization no longer gives these platform mailboxes (one member's, or all).

    A member still in another paying organization keeps the address (it moves there);
    the others' mailboxes are scheduled for removal after the grace period and the
    member is warned by email (after commit). Idempotent: a scheduled removal keeps its date.
    """
    actor = actor or Actor.system()
    now = now or timezone.now()
    mailboxes = Mailbox.objects.filter(organization=organization, is_system=True).select_related("user", "domain")
    if user is not None:
        mailboxes = mailboxes.filter(user=user)
    scheduled = []
    for mailbox in mailboxes:
        other = _paying_organization_of(mailbox.user, exclude_id=organization.pk) if mailbox.user else None
        if other is not None:
            _keep(mailbox, organization=other, actor=actor)
            continue
        if mailbox.remove_at is not None:
            continue
        mailbox.remove_at = now + timedelta(days=settings.MAILHERD_PLATFORM_MAILBOX_GRACE_DAYS)
        mailbox.save(update_fields=["remove_at", "updated_at"])
        audit_record(actor=actor, action="platform_mailbox.removal_scheduled", organization=organization,
                     obj=mailbox, data={"reason": reason, "remove_at": mailbox.remove_at.isoformat()})
        scheduled.append(mailbox)
        if mailbox.user is not None:
            _warn_after_commit(mailbox, organization=organization, reason=reason)
    return scheduled


def _warn_after_commit(mailbox: Mailbox, *, organization, reason: str) -> None:
    from mailherd.notifications.services import email_send

    to, context = mailbox.user.email, {
        "address": mailbox.address,
        "organization": organization.name,
        "remove_at": mailbox.remove_at,
        "reason": reason,
    }
    transaction.on_commit(
        lambda: email_send(to=to, template="platform_mailbox_removal", context=context, organization=organization)
    )


def platform_mailboxes_remove_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Remove the platform mailboxes whose grace period is over (periodic); return how many."""
    now = now or timezone.now()
    removed = 0
    for pk in Mailbox.objects.filter(is_system=True, remove_at__lte=now).values_list("pk", flat=True)[:limit]:
        removed += _remove_one(pk, now=now)
    return removed


@transaction.atomic
def _remove_one(pk: int, *, now: datetime) -> int:
    from mailherd.tenancy.locks import organization_lock

    mailbox = Mailbox.objects.filter(pk=pk).first()
    if mailbox is None:
        return 0
    organization_lock(organization_id=mailbox.organization_id)
    mailbox = Mailbox.objects.select_related("user", "domain").filter(pk=pk, remove_at__lte=now).first()
    if mailbox is None:
        return 0
    actor = Actor.system()
    back = _paying_organization_of(mailbox.user) if mailbox.user else None
    if back is not None:  # paying again (or in another paying organization): it stays
        _keep(mailbox, organization=back, actor=actor)
        return 0
    enqueue(kind=ProvisioningOp.Kind.MAILBOX_DELETE, object_key=mailbox_key(mailbox.address),
            organization=mailbox.organization, domain_name=mailbox.domain.name)
    audit_record(actor=actor, action="platform_mailbox.delete", organization=mailbox.organization, obj=mailbox)
    mailbox.delete()
    return 1


def platform_mailboxes_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic pass: members of paying organizations still without an address get one
    (new members, a platform domain named later, accounts billed by hand), then due removals run."""
    from mailherd.billing.models import Subscription
    from mailherd.tenancy.locks import organization_lock
    from mailherd.tenancy.models import Membership

    created = 0
    if platform_domain_get() is not None:
        live = (Subscription.Status.TRIALING, Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE)
        organization_ids = set(
            Membership.objects.filter(organization__billing__status__in=live)
            .exclude(user__assigned_mailboxes__is_system=True)
            .values_list("organization_id", flat=True)
            .distinct()[:200]
        )
        for organization_id in sorted(organization_ids):
            with transaction.atomic():
                organization = organization_lock(organization_id=organization_id)
                created += len(platform_mailboxes_ensure(organization=organization))
    return {"created": created, "removed": platform_mailboxes_remove_due(now=now)}
