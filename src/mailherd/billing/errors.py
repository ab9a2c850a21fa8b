from mailherd.core.errors import Conflict, MailherdError, ValidationFailed


class BillingDisabled(MailherdError):
    code = "billing_disabled"
    http_status = 409
    default_message = "Online billing is not enabled; your provider assigns plans."


class BillingUnavailable(MailherdError):
    code = "billing_unavailable"
    http_status = 503
    default_message = "The payment provider could not be reached. Please try again in a minute."


class PaymentDeclined(MailherdError):
    code = "payment_declined"
    http_status = 402
    default_message = "The card was declined."


class NoPaymentMethod(MailherdError):
    code = "no_payment_method"
    http_status = 409
    default_message = "Add a card first."


class PlanNotPurchasable(ValidationFailed):
    code = "plan_not_purchasable"


class DowngradeBlocked(Conflict):
    """The organization uses more than the target plan allows; `over` lists what to remove."""

    code = "downgrade_blocked"


class SubscriptionStateError(Conflict):
    code = "subscription_state"


class InvalidRefund(ValidationFailed):
    code = "invalid_refund"
