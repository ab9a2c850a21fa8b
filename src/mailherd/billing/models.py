"""Local mirror of the Stripe state Mailherd acts on, plus dunning bookkeeping.

Stripe stays the source of truth for money; these rows are re-read from it
(webhooks, our own calls, the periodic sync) and are what the portal, the
back office and the dunning sweep look at. See docs/billing.md.
"""

from django.db import models
from django.db.models import Q


class Subscription(models.Model):
    """An organization's billing account: its Stripe customer, card and (current) subscription.

    One row per organization; a subscription that ended and is later reactivated
    reuses the row with a new `stripe_subscription_id`.
    """

    class Status(models.TextChoices):
        NONE = "none", "No subscription"
        TRIALING = "trialing", "Trial"
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Past due"
        UNPAID = "unpaid", "Unpaid"
        INCOMPLETE = "incomplete", "Awaiting first payment"
        INCOMPLETE_EXPIRED = "incomplete_expired", "First payment failed"
        CANCELED = "canceled", "Canceled"

    organization = models.OneToOneField(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="billing"
    )
    stripe_customer_id = models.CharField(max_length=100, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=100, blank=True, db_index=True)
    plan = models.ForeignKey(
        "plans.Plan", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NONE)
    cancel_at_period_end = models.BooleanField(default=False)
    current_period_end = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    trial_used = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True)

    stripe_payment_method_id = models.CharField(max_length=100, blank=True)
    card_brand = models.CharField(max_length=30, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)

    # Dunning: set while a payment is overdue. `next_dunning_at` is what the
    # sweep selects on (partial index), so its cost follows the due rows only.
    dunning_started_at = models.DateTimeField(null=True, blank=True)
    dunning_retries = models.PositiveSmallIntegerField(default=0)
    next_dunning_at = models.DateTimeField(null=True, blank=True)
    last_payment_error = models.CharField(max_length=255, blank=True)
    # True when billing suspended the organization, so that only billing lifts it
    # (an operator's suspension for abuse is not undone by a payment).
    suspended_by_billing = models.BooleanField(default=False)

    # Manual billing (no Stripe): the operator approves plans and records invoices and
    # payments by hand; overdue invoices run the same dunning and suspension stages.
    manual = models.BooleanField(default=False)

    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_dunning_at"],
                condition=Q(next_dunning_at__isnull=False),
                name="billing_sub_dunning_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization} ({self.get_status_display()})"

    @property
    def is_live(self) -> bool:
        """True while the subscription gives service (paid, in trial, or in dunning)."""
        return self.status in (self.Status.TRIALING, self.Status.ACTIVE, self.Status.PAST_DUE)

    @property
    def in_dunning(self) -> bool:
        return self.dunning_started_at is not None

    @property
    def has_card(self) -> bool:
        return bool(self.stripe_payment_method_id)


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        VOID = "void", "Void"
        UNCOLLECTIBLE = "uncollectible", "Uncollectible"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="invoices"
    )
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="invoices"
    )
    stripe_invoice_id = models.CharField(max_length=100, unique=True)
    stripe_subscription_id = models.CharField(max_length=100, blank=True)
    number = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    currency = models.CharField(max_length=3, default="usd")
    amount_due = models.IntegerField(default=0, help_text="Cents")
    amount_paid = models.IntegerField(default=0, help_text="Cents")
    amount_refunded = models.IntegerField(default=0, help_text="Cents")
    attempt_count = models.PositiveSmallIntegerField(default=0)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    hosted_invoice_url = models.URLField(max_length=500, blank=True)
    invoice_pdf = models.URLField(max_length=500, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=100, blank=True)
    issued_at = models.DateTimeField()
    # Manual billing: an invoice the operator recorded (its id is "manual_…"), when it is
    # due, and how the payment was recorded.
    manual = models.BooleanField(default=False)
    description = models.CharField(max_length=255, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_reference = models.CharField(max_length=255, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-issued_at", "-pk"]
        indexes = [models.Index(fields=["organization", "-issued_at"])]

    def __str__(self) -> str:
        return self.number or self.stripe_invoice_id

    @property
    def refundable(self) -> int:
        return max(0, self.amount_paid - self.amount_refunded)

    @property
    def display_status(self) -> str:
        if self.amount_refunded and self.amount_refunded >= self.amount_paid > 0:
            return "Refunded"
        if self.amount_refunded:
            return "Partly refunded"
        return self.get_status_display()


class Refund(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="refunds")
    stripe_refund_id = models.CharField(max_length=100, unique=True)
    stripe_charge_id = models.CharField(max_length=100, blank=True)
    # One key per refund the operator asked for (the refund form's nonce): a double
    # submit finds the row and refunds once; sent to Stripe as its idempotency key.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    amount = models.PositiveIntegerField(help_text="Cents")
    reason = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=30, default="succeeded")  # "pending" while sent
    created_by = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Refund {self.amount / 100:.2f} on {self.invoice}"


class WebhookEvent(models.Model):
    """Every Stripe event received, once (unique id), with how handling went."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (not an event we act on)"
        FAILED = "failed", "Failed (will be tried again)"
        DEAD = "dead", "Dead letter (gave up)"

    stripe_event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    api_version = models.CharField(max_length=50, blank=True)
    livemode = models.BooleanField(default=False)
    object_id = models.CharField(max_length=100, blank=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    handler_error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_event_id}"


class WebhookDeadLetter(WebhookEvent):
    """The back office's dead-letter list: events that kept failing and are no longer tried."""

    class Meta:
        proxy = True
        verbose_name = "dead-letter webhook event"
        verbose_name_plural = "dead-letter webhook events"


class DunningNotice(models.Model):
    """An escalation email sent (or claimed) for one overdue episode; never sent twice."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="notices")
    episode_started_at = models.DateTimeField()
    kind = models.CharField(max_length=60)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "episode_started_at", "kind"], name="unique_dunning_notice"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.subscription}"


class PlanRequest(models.Model):
    """Manual billing: a customer asks for a plan; the operator approves or declines it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="plan_requests"
    )
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    requested_by = models.CharField(max_length=255, blank=True)
    decided_by = models.CharField(max_length=255, blank=True)
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(status="pending"),
                name="one_pending_plan_request",
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization} → {self.plan} ({self.get_status_display()})"


class BillingSettings(models.Model):
    """The one row (pk=1) of billing knobs the operator edits in the back office.

    A blank field falls back to the environment's default (Django settings
    BILLING_*, then the built-in default): see conf.py.
    """

    retry_days = models.CharField(
        max_length=100,
        blank=True,
        help_text="Days after the first failed payment on which it is retried, e.g. 1, 3, 5, 7",
    )
    grace_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Days after the first failure before mail is suspended"
    )
    reminder_day = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Day of the payment reminder email"
    )
    final_notice_day = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Day of the final notice email"
    )
    deactivate_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Days after the suspension before mailboxes and domains are deactivated",
    )
    delete_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Days after the suspension before the mail data is deleted"
    )
    deletion_warning_days = models.CharField(
        max_length=100,
        blank=True,
        help_text="Days before the deletion on which a warning goes out, e.g. 14, 3",
    )
    manual_invoice_due_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Manual billing: days a recorded invoice is payable"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "billing settings"
        verbose_name_plural = "billing settings"

    def __str__(self) -> str:
        return "Billing settings"

    @classmethod
    def load(cls) -> "BillingSettings":
        row, _ = cls.objects.get_or_create(pk=1)
        return row
