"""The mailbox user's own settings: forwarding, protocol access, the spam filter level.

Each goes through the outbox like every other change and is audited:
- forwarding joins the out-of-office reply in the mailbox's one Sieve postfilter
  (see `mailherd.webmail.autoreply`; Mailcow keeps one active postfilter per mailbox);
- protocol access is `Mailbox.blocked_protocols`, sent as Mailcow's `<protocol>_access`
  attributes with the mailbox (`edit/mailbox`) and compared by the reconciler;
- the spam filter level is a preset of the mailbox's spam score thresholds (`edit/spam-score`).
"""

from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import MailherdError, ValidationFailed
from mailherd.hosting.models import Mailbox, ProvisioningOp, SyncStatus
from mailherd.hosting.services.limits import ensure_writable
from mailherd.hosting.services.mailboxes import mailbox_key
from mailherd.hosting.services.outbox import enqueue
from mailherd.hosting.validation import clean_alias_targets
from mailherd.tenancy.locks import organization_row_lock
from mailherd.webmail.models import Forwarding

# The switches a mailbox's page offers (Mailcow's `<name>_access`; EAS and DAV stay as they are).
PROTOCOLS = {
    "imap": "IMAP (mail apps read mail)",
    "pop3": "POP3 (mail apps download mail)",
    "smtp": "SMTP (mail apps send mail)",
    "sieve": "Sieve (mail apps manage filters)",
    "sogo": "Webmail",
}
MAX_FORWARD_TARGETS = 5

# Spam score thresholds (to Junk, refused); Mailcow's own are 8 and 15 (rspamd actions.conf).
SPAM_LEVELS = {
    "strict": (5.0, 10.0),
    "default": None,
    "relaxed": (12.0, 25.0),
}
SPAM_LEVEL_NAMES = {
    "strict": "Strict: more mail goes to Junk",
    "default": "Standard",
    "relaxed": "Relaxed: only clear spam goes to Junk",
}


def _locked(organization, address):
    organization, mailbox = organization_row_lock(
        organization_id=organization.pk, model=Mailbox, label="mailbox", address=address
    )
    ensure_writable(organization)
    return organization, mailbox


# -- protocol access ------------------------------------------------------------------


def mailbox_protocols(mailbox) -> dict[str, bool]:
    blocked = set(mailbox.blocked_protocols or ())
    return {name: name not in blocked for name in PROTOCOLS}


def desired_access(mailbox) -> dict[str, bool]:
    """What Mailcow's access attributes should say (sent with the mailbox)."""
    return mailbox_protocols(mailbox)


@transaction.atomic
def mailbox_protocols_set(
    *, actor: Actor, organization, address: str, protocols: dict
) -> Mailbox:
    """Switch protocols on or off; protocols not named keep their setting."""
    if hasattr(protocols, "model_dump"):
        protocols = protocols.model_dump(exclude_none=True)
    unknown = sorted(set(protocols) - set(PROTOCOLS))
    if unknown:
        raise ValidationFailed(
            f"Unknown protocol {', '.join(unknown)}: use {', '.join(PROTOCOLS)}.",
            field="protocols",
        )
    if any(not isinstance(value, bool) for value in protocols.values()):
        raise ValidationFailed("Switch each protocol with true or false.", field="protocols")
    organization, mailbox = _locked(organization, address)
    wanted = {**mailbox_protocols(mailbox), **protocols}
    blocked = sorted(name for name, allowed in wanted.items() if not allowed)
    if blocked == sorted(mailbox.blocked_protocols or ()):
        return mailbox
    mailbox.blocked_protocols = blocked
    mailbox.sync_status = SyncStatus.PENDING
    mailbox.save(update_fields=["blocked_protocols", "sync_status", "updated_at"])
    enqueue(
        kind=ProvisioningOp.Kind.MAILBOX_UPDATE,
        object_key=mailbox_key(mailbox.address),
        organization=organization,
        domain_name=mailbox.domain.name,
        payload={"access": True},
    )
    audit_record(
        actor=actor,
        action="mailbox.protocols",
        organization=organization,
        obj=mailbox,
        data={"blocked": blocked},
    )
    return mailbox


# -- forwarding -----------------------------------------------------------------------


def forwarding_get(mailbox) -> Forwarding:
    return Forwarding.objects.filter(mailbox=mailbox).first() or Forwarding(mailbox=mailbox)


@transaction.atomic
def forwarding_set(
    *, actor: Actor, organization, address: str, targets, keep_copy: bool = True
) -> Forwarding:
    """Forward the mailbox's mail to up to five addresses (none: off), keeping a copy or not."""
    from mailherd.hosting.services.aliases import _check_targets

    if isinstance(targets, str):
        targets = targets.replace(";", ",").replace("\n", ",").split(",")
    targets = [t for t in (targets or []) if (t or "").strip()]
    try:
        cleaned = clean_alias_targets(targets) if targets else []
    except MailherdError as exc:
        exc.fields["field"] = "targets"
        raise
    organization, mailbox = _locked(organization, address)
    if len(cleaned) > MAX_FORWARD_TARGETS:
        raise ValidationFailed(
            f"Forward to at most {MAX_FORWARD_TARGETS} addresses.", field="targets"
        )
    if mailbox.address in cleaned:
        raise ValidationFailed("A mailbox cannot forward to itself.", field="targets")
    try:
        _check_targets(organization, cleaned)  # outside the organization's domains: plan feature
    except MailherdError as exc:
        exc.fields["field"] = "targets"
        raise
    forwarding = forwarding_get(mailbox)
    forwarding.targets, forwarding.keep_copy = cleaned, bool(keep_copy)
    forwarding.save()
    enqueue(
        kind=ProvisioningOp.Kind.MAILBOX_AUTOREPLY,  # the mailbox's own Sieve script
        object_key=mailbox_key(mailbox.address),
        organization=organization,
        domain_name=mailbox.domain.name,
    )
    audit_record(
        actor=actor,
        action="mailbox.forwarding",
        organization=organization,
        obj=mailbox,
        data={"targets": cleaned, "keep_copy": forwarding.keep_copy},
    )
    return forwarding


# -- spam filter level -------------------------------------------------------------------


def spam_level_of(mailbox) -> str:
    """"strict", "default", "relaxed", or "custom" (thresholds set on the mailbox page)."""
    current = None if mailbox.spam_low is None else (mailbox.spam_low, mailbox.spam_high)
    for name, scores in SPAM_LEVELS.items():
        if scores == current:
            return name
    return "custom"


def mailbox_spam_level_set(*, actor: Actor, organization, address: str, level: str) -> Mailbox:
    from mailherd.hosting.services.spam import mailbox_spam_settings_set

    if level not in SPAM_LEVELS:
        raise ValidationFailed(
            f"The spam filter level is one of {', '.join(SPAM_LEVELS)}.", field="level"
        )
    scores = SPAM_LEVELS[level]
    return mailbox_spam_settings_set(
        actor=actor,
        organization=organization,
        address=address,
        spam_score=None if scores is None else {"low": scores[0], "high": scores[1]},
    )
