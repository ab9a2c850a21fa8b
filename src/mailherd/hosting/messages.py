"""What a customer reads when the mail server refused a change: plain words, never the raw error.

The outbox row keeps the full text (`[POST add/mailbox] HTTP 200 msg=max_mailbox_exceeded 3, 3`)
for the operator; the mailbox, alias, domain or import the customer looks at gets one of these.
"""

from mailherd.mailcow.client import MailcowError

PROVIDER_TOLD = "Your provider has been told and will fix it; there is nothing you need to do."

_BY_KEY = {
    **dict.fromkeys(
        ("max_mailbox_exceeded", "max_alias_exceeded"),
        "The mail server holds fewer addresses for this domain than your plan allows. "
        + PROVIDER_TOLD,
    ),
    **dict.fromkeys(
        (
            "mailbox_quota_exceeded",
            "mailbox_quota_left_exceeded",
            "mailbox_quota_exceeds_domain_quota",
            "mailbox_defquota_exceeds_mailbox_maxquota",
            "max_quota_in_use",
            "domain_quota_m_in_use",
        ),
        "The mail server has less storage for this domain than your plan allows. " + PROVIDER_TOLD,
    ),
    **dict.fromkeys(
        (
            "object_exists",
            "is_alias_or_mailbox",
            "is_alias",
            "is_spam_alias",
            "aliasd_exists",
            "alias_domain_exists",
        ),
        "This address already exists on the mail server, outside your account. " + PROVIDER_TOLD,
    ),
    "domain_exists": "This domain already exists on the mail server, outside your account. "
    + PROVIDER_TOLD,
    **dict.fromkeys(
        ("password_complexity", "password_empty", "password_mismatch"),
        "The mail server did not accept the password: set a new, longer one.",
    ),
    **dict.fromkeys(
        ("goto_invalid", "goto_empty"),
        "The mail server did not accept one of the forwarding addresses: check them and save"
        " again.",
    ),
}

DEFAULT = "The mail server did not accept this change. " + PROVIDER_TOLD


def customer_error(exc: BaseException) -> str:
    """The plain-words message for a refusal (`exc` is what the worker caught)."""
    if not isinstance(exc, MailcowError):
        # Mailherd's own refusals (the outbox's Permanent) are written for customers already.
        return str(exc) or DEFAULT
    return _BY_KEY.get(exc.msg_key or "", DEFAULT)
