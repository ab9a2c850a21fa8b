"""Dunning, run by Mailherd's own scheduler (design: docs/billing.md).

A failed payment starts an *episode* (`Subscription.dunning_started_at`).
From then on, the sweep looks at the subscription whenever `next_dunning_at`
is due, and each step does what the schedule says is due by now:

1. retry: pay the open invoices on each retry day (default days 1, 3, 5, 7);
   success ends the episode through the sync (restore + "restored" email);
2. notices: the most advanced escalation email that is due and not sent yet
   (payment failed → reminder → final notice), each at most once;
3. suspension: past the grace period (default 7 days), suspend the
   organization's mail through `organization_mail_suspend` and email it;
4. later stages of a billing suspension, timed from `Organization.suspended_at`
   (in or out of an episode: a subscription that ended is suspended too):
   deactivate mailboxes and domains (default 30 days), warn before deletion
   (default 14 and 3 days before, each once), delete the mail data (default 90
   days) through `hosting.services.suspension`;
5. schedule: set `next_dunning_at` to the next thing due, or clear it.

The sweep selects only due rows through a partial index, so its cost depends
on how many subscriptions are due, not on how many exist. Time is a
parameter (`now`), so tests drive the schedule with a clock, not sleeps.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from mailherd.billing import conf, gateway
from mailherd.billing.errors import BillingUnavailable
from mailherd.billing.models import DunningNotice, Subscription
from mailherd.billing.selectors import invoice_list_open
from mailherd.billing.sync import notice_send_once, remote_state_apply, remote_state_fetch
from mailherd.core.actors import Actor
from mailherd.tenancy.locks import organization_lock
from mailherd.tenancy.models import Organization

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


def dunning_sweep(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> int:
    """Run one dunning step for every subscription due by `now`; return how many ran."""
    now = now or timezone.now()
    due = list(
        Subscription.objects.filter(next_dunning_at__lte=now)
        .order_by("next_dunning_at")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for subscription_id in due:
        try:
            if dunning_step(subscription_id=subscription_id, now=now):
                done += 1
        except BillingUnavailable:
            logger.warning("dunning step %s postponed: Stripe unreachable", subscription_id)
    return done


def dunning_step(*, subscription_id: int, now: datetime | None = None) -> bool:
    """Do what is due for one overdue subscription. Return True if this call claimed it.

    The claim is a conditional UPDATE, so two workers never run the same step:
    the loser sees no row due and returns False. A crash leaves the row claimed
    for DUNNING_CLAIM_SECONDS, after which the next sweep picks it up again.
    """
    now = now or timezone.now()
    claimed = Subscription.objects.filter(pk=subscription_id, next_dunning_at__lte=now).update(
        next_dunning_at=now + timedelta(seconds=conf.DUNNING_CLAIM_SECONDS)
    )
    if not claimed:
        return False
    row = Subscription.objects.get(pk=subscription_id)
    if not row.in_dunning and not row.suspended_by_billing:
        Subscription.objects.filter(pk=row.pk).update(next_dunning_at=None)
        return True

    # 1. Retry the open invoices if a retry day has come (network: no transaction held).
    # Manual billing has no card to retry: the operator records the payment.
    # Without a Stripe key (the operator turned Stripe off) there is nothing to retry either.
    can_retry = row.in_dunning and not row.manual and conf.billing_enabled()
    retries_due = retries_due_by(row=row, now=now) if can_retry else 0
    if row.dunning_retries < retries_due:
        _retry(row=row, now=now, retries_due=retries_due)
        row.refresh_from_db()
        if not row.in_dunning and not row.suspended_by_billing:
            return True  # paid: the sync ended the episode and restored service

    # 2.-5. Notices, suspension stages and the next date, in one transaction.
    with transaction.atomic(durable=True):
        organization = organization_lock(organization_id=row.organization_id)
        row = Subscription.objects.select_for_update().get(pk=row.pk)
        if not row.in_dunning and not row.suspended_by_billing:
            return True
        if row.in_dunning:
            notice = notice_due(row=row, now=now)
            if notice:
                notice_send_once(row=row, kind=notice)
            if now >= row.dunning_started_at + conf.grace_period():
                from mailherd.billing.sync import _suspend

                _suspend(
                    row=row,
                    organization=organization,
                    reason="payment overdue",
                    notice="billing_suspended",
                    now=now,
                )
        suspension_stages_run(row=row, now=now)
        row.next_dunning_at = next_dunning_time(row=row, now=now)
        row.save(update_fields=["next_dunning_at"])
    return True


# -- later stages of a billing suspension --------------------------------------

DELETION_WARNING = "billing_deletion_warning"


def _warning_kind(days: int) -> str:
    return f"{DELETION_WARNING}_{days}d"


def _suspended_organization(row: Subscription) -> Organization | None:
    """The organization if billing's suspension of it is in a stage the sweep still advances."""
    if not row.suspended_by_billing:
        return None
    organization = Organization.objects.get(pk=row.organization_id)
    if (
        not organization.is_suspended
        or organization.suspended_at is None
        or organization.suspension_stage == Organization.SuspensionStage.DELETED
    ):
        return None
    return organization


def _warnings_sent(row: Subscription, organization: Organization) -> dict[str, datetime]:
    return dict(
        DunningNotice.objects.filter(
            subscription=row,
            episode_started_at=organization.suspended_at,
            kind__startswith=DELETION_WARNING,
        ).values_list("kind", "created_at")
    )


def deletion_time(*, row: Subscription, organization: Organization) -> datetime | None:
    """When the mail data goes: the retention period after the suspension, but never before
    the last warning has been out for the days it announced (a late sweep postpones it).
    None while that last warning has not gone out.
    """
    when = organization.suspended_at + conf.delete_after()
    warnings = conf.deletion_warning_days()
    if not warnings:
        return when
    last = min(warnings)
    sent_at = _warnings_sent(row, organization).get(_warning_kind(last))
    if sent_at is None:
        return None
    return max(when, sent_at + timedelta(days=last))


def deletion_warning_due(*, row: Subscription, organization: Organization, now: datetime) -> int:
    """Days of the most advanced deletion warning due by `now` and not sent (0: none).

    Like the notices: a late sweep sends the current warning only.
    """
    when = organization.suspended_at + conf.delete_after()
    warnings = conf.deletion_warning_days()  # e.g. (14, 3)
    due = [days for days in warnings if when - timedelta(days=days) <= now]
    if not due:
        return 0
    sent = _warnings_sent(row, organization)
    later = [_warning_kind(days) for days in warnings[len(due) - 1 :]]
    return 0 if sent.keys() & set(later) else due[-1]


def suspension_stages_run(*, row: Subscription, now: datetime) -> None:
    """Advance billing's suspension: deactivate, warn, delete, whatever is due by `now`.

    Inside the step's transaction, organization locked. Each service is idempotent and
    audited; each warning is claimed by a DunningNotice (never sent twice).
    """
    from mailherd.hosting.services.suspension import (
        organization_mail_deactivate,
        organization_mail_delete,
    )

    organization = _suspended_organization(row)
    if organization is None:
        return
    actor = Actor.system()
    stage = Organization.SuspensionStage
    if (
        organization.suspension_stage == stage.LOGIN_DISABLED
        and now >= organization.suspended_at + conf.deactivate_after()
    ):
        organization = organization_mail_deactivate(
            actor=actor, organization_id=organization.pk, reason="payment overdue"
        )
    days = deletion_warning_due(row=row, organization=organization, now=now)
    if days:
        delete_on = max(
            organization.suspended_at + conf.delete_after(),
            now + timedelta(days=min(conf.deletion_warning_days())),
        )
        notice_send_once(
            row=row,
            kind=_warning_kind(days),
            episode=organization.suspended_at,
            template=DELETION_WARNING,
            context={"delete_on": delete_on, "days": (delete_on - now).days},
            now=now,
        )
    when = deletion_time(row=row, organization=organization)
    if when is not None and now >= when:
        organization_mail_delete(
            actor=actor, organization_id=organization.pk, reason="retention period over"
        )


def suspension_stage_times(*, row: Subscription) -> list[datetime]:
    """The dates of the suspension stages still ahead (for `next_dunning_time`)."""
    return [when for when, _label in suspension_stage_steps(row=row)]


def suspension_stage_steps(*, row: Subscription) -> list[tuple[datetime, str]]:
    """The suspension stages still ahead, as (date, what happens)."""
    organization = _suspended_organization(row)
    if organization is None:
        return []
    since = organization.suspended_at
    steps = []
    if organization.suspension_stage == Organization.SuspensionStage.LOGIN_DISABLED:
        steps.append((since + conf.deactivate_after(), "Deactivate mailboxes and domains"))
    when = since + conf.delete_after()
    sent = _warnings_sent(row, organization)
    warnings = conf.deletion_warning_days()
    last_sent = max(
        (i for i, days in enumerate(warnings) if _warning_kind(days) in sent), default=-1
    )
    steps += [
        (when - timedelta(days=days), f"Email: deletion warning ({days} days before)")
        for days in warnings[last_sent + 1 :]
    ]
    deletion = deletion_time(row=row, organization=organization)
    if deletion is not None:
        steps.append((deletion, "Delete the mail data"))
    return steps


def _retry(*, row: Subscription, now: datetime, retries_due: int) -> None:
    """Pay the open invoices, oldest first, then apply the re-read state."""
    error = ""
    for invoice in invoice_list_open(subscription=row):
        attempt = gateway.invoice_pay(invoice.stripe_invoice_id)
        if not attempt.paid:
            error = attempt.error
            break
    state = remote_state_fetch(subscription=row)
    with transaction.atomic(durable=True):
        updated = remote_state_apply(subscription_id=row.pk, state=state, now=now)
        if updated.in_dunning:
            updated.dunning_retries = retries_due
            updated.last_payment_error = error[:255]
            updated.save(update_fields=["dunning_retries", "last_payment_error"])


def retries_due_by(*, row: Subscription, now: datetime) -> int:
    """How many retries the schedule wants done by `now` in this episode."""
    elapsed = now - row.dunning_started_at
    return sum(1 for day in conf.retry_days() if timedelta(days=day) <= elapsed)


def notice_due(*, row: Subscription, now: datetime) -> str:
    """The most advanced notice due by `now`, unless it (or a later one) was already sent.

    A sweep that ran late sends the current notice only, not every missed one.
    """
    elapsed = now - row.dunning_started_at
    schedule = conf.notices()
    due = [kind for kind, day in schedule if timedelta(days=day) <= elapsed]
    if not due:
        return ""
    sent = set(
        DunningNotice.objects.filter(
            subscription=row, episode_started_at=row.dunning_started_at
        ).values_list("kind", flat=True)
    )
    latest = due[-1]
    later = [kind for kind, _day in schedule[len(due) - 1 :]]
    return "" if sent.intersection(later) else latest


NOTICE_LABELS = {
    "billing_payment_failed": "Email: payment failed",
    "billing_payment_reminder": "Email: payment reminder",
    "billing_final_notice": "Email: final notice",
}


def dunning_steps(*, row: Subscription, now: datetime) -> list[tuple[datetime, str]]:
    """Every dunning step still ahead of `now` for this subscription, earliest first."""
    steps = suspension_stage_steps(row=row)
    if row.in_dunning:
        start = row.dunning_started_at
        schedule = conf.notices()
        sent = set(
            DunningNotice.objects.filter(subscription=row, episode_started_at=start).values_list(
                "kind", flat=True
            )
        )
        last_sent = max(
            (i for i, (kind, _day) in enumerate(schedule) if kind in sent), default=-1
        )
        if not row.manual:
            steps += [
                (start + timedelta(days=day), "Retry the payment")
                for day in conf.retry_days()[row.dunning_retries :]
            ]
        steps += [
            (start + timedelta(days=day), NOTICE_LABELS.get(kind, f"Email: {kind}"))
            for kind, day in schedule[last_sent + 1 :]
        ]
        if not row.suspended_by_billing:
            steps.append((start + conf.grace_period(), "Suspend mail (sign-in refused)"))
    return sorted((step for step in steps if step[0] > now), key=lambda step: step[0])


def dunning_next_step(*, row: Subscription, now: datetime | None = None):
    """(date, what) of the next dunning step, or None (shown in the back office)."""
    if not row.in_dunning and not row.suspended_by_billing:
        return None
    now = now or timezone.now()
    steps = dunning_steps(row=row, now=now)
    if not steps:
        return None
    first = steps[0][0]
    labels = [label for when, label in steps if when == first]
    return first, "; ".join(dict.fromkeys(labels))


def next_dunning_time(*, row: Subscription, now: datetime) -> datetime | None:
    """When the sweep must look at this subscription again (None: nothing left to do).

    Call after a step has done everything due by `now`: only later dates count,
    and notices skipped because a later one went out are not waited for.
    """
    steps = dunning_steps(row=row, now=now)
    return steps[0][0] if steps else None
