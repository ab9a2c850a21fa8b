"""One error hierarchy for every interface (portal, API, MCP, CLI).

Codes are snake_case strings that never change; scripts depend on them.
"""


class MailherdError(Exception):
    code = "error"
    http_status = 400
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, **fields):
        self.message = message or self.default_message
        self.fields = fields
        super().__init__(self.message)

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, **self.fields}


class ValidationFailed(MailherdError):
    code = "invalid"
    http_status = 422


class ConfirmationRequired(ValidationFailed):
    """A destructive change whose `confirm` does not repeat the name of what it destroys."""

    code = "confirmation_required"


class InvalidAddress(ValidationFailed):
    code = "invalid_address"


class NotFound(MailherdError):
    code = "not_found"
    http_status = 404
    default_message = "Not found."


class PermissionDenied(MailherdError):
    code = "permission_denied"
    http_status = 403
    default_message = "You do not have permission to do this."


class Conflict(MailherdError):
    code = "conflict"
    http_status = 409


class PlanLimitExceeded(MailherdError):
    code = "plan_limit_exceeded"
    http_status = 409

    def __init__(
        self, *, limit_name: str, limit: int, used: int, requested: int = 1, plan: str = ""
    ):
        if limit_name == "storage_mb":
            from mailherd.core.units import mib_human

            message = (
                f"Your {plan or 'current'} plan allows {mib_human(limit)} of storage; your mailboxes"
                f" have {mib_human(used)} and this asks for {mib_human(requested)} more."
                " Upgrade your plan, or give mailboxes less storage."
            )
        else:
            label = limit_name.replace("_", " ")
            message = (
                f"Your {plan or 'current'} plan allows {limit} {label}; you have {used}."
                " Upgrade your plan to add more."
            )
        super().__init__(
            message, limit_name=limit_name, limit=limit, used=used, requested=requested
        )


class DomainNotVerified(MailherdError):
    code = "domain_not_verified"
    http_status = 409


class DomainTaken(MailherdError):
    code = "domain_taken"
    http_status = 409
    default_message = "This domain is already in use by another organization."


class OrganizationSuspended(MailherdError):
    code = "organization_suspended"
    http_status = 403
    default_message = "This organization is suspended; settle the open invoice to restore service."
