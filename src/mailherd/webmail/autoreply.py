"""The mailbox's own Sieve script (generated with sievelib) through the outbox: the
out-of-office reply and forwarding (`mailherd.webmail.selfservice`).

Mailcow keeps Sieve scripts per mailbox (`add/filter`) and only one active script per
mailbox and type (an active add deactivates the others: read from source), so both live in
one `postfilter` described AUTOREPLY_DESCRIPTION; the rules app writes its own filters under
its own description, so the two never replace each other (see docs/webmail.md).
"""

import datetime
import io

from django.db import transaction
from sievelib.factory import FiltersSet

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.errors import ValidationFailed
from mailherd.hosting.models import Mailbox, ProvisioningOp
from mailherd.hosting.services.mailboxes import mailbox_key
from mailherd.hosting.services.outbox import enqueue
from mailherd.webmail.models import AutoReply

AUTOREPLY_DESCRIPTION = "mailherd: mailbox settings"
# Earlier scripts of ours (out-of-office only), replaced on the next change.
OWN_DESCRIPTIONS = (AUTOREPLY_DESCRIPTION, "mailherd: out-of-office")
AUTOREPLY_FILTER_TYPE = "postfilter"
MAX_MESSAGE = 4000


def autoreply_get(mailbox) -> AutoReply:
    return AutoReply.objects.filter(mailbox=mailbox).first() or AutoReply(mailbox=mailbox)


def _date(value, field):
    if value in (None, ""):
        return None
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed("Give dates as YYYY-MM-DD.", field=field)


@transaction.atomic
def autoreply_set(
    *,
    actor: Actor,
    organization,
    address: str,
    enabled: bool,
    subject: str = "",
    message: str = "",
    starts_on=None,
    ends_on=None,
) -> AutoReply:
    """Switch the out-of-office reply on (with its text and optional dates) or off."""
    from mailherd.hosting.services.mailboxes import _locked_mailbox

    organization, mailbox = _locked_mailbox(organization, address)
    subject = " ".join((subject or "").split())[:200]
    message = (message or "").strip()
    starts, ends = _date(starts_on, "starts_on"), _date(ends_on, "ends_on")
    if enabled and not message:
        raise ValidationFailed("Write the reply people will get.", field="message")
    if len(message) > MAX_MESSAGE:
        raise ValidationFailed(
            f"The reply can have at most {MAX_MESSAGE} characters.", field="message"
        )
    if starts and ends and ends < starts:
        raise ValidationFailed("The last day comes before the first.", field="ends_on")
    reply = autoreply_get(mailbox)
    reply.enabled, reply.subject, reply.message, reply.starts_on, reply.ends_on = (
        bool(enabled),
        subject,
        message,
        starts,
        ends,
    )
    reply.save()
    enqueue(
        kind=ProvisioningOp.Kind.MAILBOX_AUTOREPLY,
        object_key=mailbox_key(mailbox.address),
        organization=organization,
        domain_name=mailbox.domain.name,
    )
    audit_record(
        actor=actor,
        action="mailbox.autoreply",
        organization=organization,
        obj=mailbox,
        data={"enabled": reply.enabled, "starts_on": str(starts or ""), "ends_on": str(ends or "")},
    )
    return reply


def vacation_script(reply: AutoReply | None, forwarding=None) -> str:
    """The Sieve script: a vacation action, limited to the dates when given (RFC 5230, 5260),
    then one `redirect` per forwarding target (`:copy` keeps the message here too, RFC 3894)."""
    filters = FiltersSet(AUTOREPLY_DESCRIPTION)
    if reply is not None and reply.enabled:
        _add_vacation(filters, reply)
    if forwarding is not None and forwarding.targets:
        copy = [":copy"] if forwarding.keep_copy else []
        filters.addfilter(
            "forwarding",
            [("true",)],
            [("redirect", *copy, target) for target in forwarding.targets],
            matchtype="allof",
        )
    out = io.StringIO()
    filters.tosieve(out)
    return out.getvalue()


def _add_vacation(filters, reply) -> None:
    conditions = []
    if reply.starts_on:
        conditions.append(("currentdate", ":value", "ge", "date", reply.starts_on.isoformat()))
    if reply.ends_on:
        conditions.append(("currentdate", ":value", "le", "date", reply.ends_on.isoformat()))
    action = ["vacation", ":days", 1]
    if reply.subject:
        action += [":subject", reply.subject]
    action.append(reply.message.replace("\r\n", "\n"))
    filters.addfilter(
        "out-of-office", conditions or [("true",)], [tuple(action)], matchtype="allof"
    )


def _apply(op, client, server) -> None:
    if client is None:
        return
    address = op.object_key.split(":", 1)[1]
    mailbox = Mailbox.objects.filter(address=address).first()
    if mailbox is None:
        return
    from mailherd.webmail.selfservice import forwarding_get

    reply, forwarding = autoreply_get(mailbox), forwarding_get(mailbox)
    # Replace only our own script; the rules app's filters are described differently.
    for old in client.list_sieve_filters(address):
        if old.description in OWN_DESCRIPTIONS:
            client.delete_sieve_filter(old.id)
    if reply.enabled or forwarding.targets:
        client.add_sieve_filter(
            address,
            script=vacation_script(reply, forwarding),
            description=AUTOREPLY_DESCRIPTION,
            filter_type=AUTOREPLY_FILTER_TYPE,
            active=True,
        )


def register_outbox_handlers() -> None:
    from mailherd.hosting.provisioning import HANDLERS

    HANDLERS[ProvisioningOp.Kind.MAILBOX_AUTOREPLY] = _apply
