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
4. schedule: set `next_dunning_at` to the next thing due, or clear it.

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
from mailherd.tenancy.locks import organization_lock

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
    if not row.in_dunning:
        Subscription.objects.filter(pk=row.pk).update(next_dunning_at=None)
        return True

    # 1. Retry the open invoices if a retry day has come (network: no transaction held).
    retries_due = retries_due_by(row=row, now=now)
    if row.dunning_retries < retries_due:
        _retry(row=row, now=now, retries_due=retries_due)
        row.refresh_from_db()
        if not row.in_dunning:
            return True  # paid: the sync ended the episode and restored service

    # 2.-4. Notices, suspension and the next date, in one transaction.
    with transaction.atomic(durable=True):
        organization = organization_lock(organization_id=row.organization_id)
        row = Subscription.objects.select_for_update().get(pk=row.pk)
        if not row.in_dunning:
            return True
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
            )
        row.next_dunning_at = next_dunning_time(row=row, now=now)
        row.save(update_fields=["next_dunning_at"])
    return True


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


def next_dunning_time(*, row: Subscription, now: datetime) -> datetime | None:
    """When the sweep must look at this subscription again (None: nothing left to do).

    Call after a step has done everything due by `now`: only later dates count,
    and notices skipped because a later one went out are not waited for.
    """
    if not row.in_dunning:
        return None
    start = row.dunning_started_at
    schedule = conf.notices()
    sent = set(
        DunningNotice.objects.filter(subscription=row, episode_started_at=start).values_list(
            "kind", flat=True
        )
    )
    last_sent = max((i for i, (kind, _day) in enumerate(schedule) if kind in sent), default=-1)
    candidates = [start + timedelta(days=day) for day in conf.retry_days()[row.dunning_retries :]]
    candidates += [start + timedelta(days=day) for _kind, day in schedule[last_sent + 1 :]]
    if not row.suspended_by_billing:
        candidates.append(start + conf.grace_period())
    future = [when for when in candidates if when > now]
    return min(future) if future else None
