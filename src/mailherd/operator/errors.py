from mailherd.core.errors import MailherdError, NotFound


class PlanChangeRefused(MailherdError):
    """The organization uses more than the new plan allows; `problems` lists each excess."""

    code = "plan_change_refused"
    http_status = 409


class FeatureDisabled(NotFound):
    """A switched-off feature answers exactly like a route that does not exist."""

    code = "not_found"


class FeaturePaused(MailherdError):
    """The operator switched the feature off for everyone: maintenance, try again later."""

    code = "maintenance"
    http_status = 503
    default_message = (
        "Email hosting is paused for maintenance. Mail is still delivered; try again later."
    )
