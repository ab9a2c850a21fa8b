from mailherd.core.errors import Conflict, MailherdError, ValidationFailed


class InvitationInvalid(MailherdError):
    code = "invitation_invalid"
    http_status = 410


class AlreadyMember(Conflict):
    code = "already_member"


class LastOwner(Conflict):
    code = "last_owner"
    default_message = "An organization needs at least one owner."


class InvalidOrganizationName(ValidationFailed):
    code = "invalid_name"


class InvitationRateLimited(MailherdError):
    """Too many invitations in the last hour (per organization or per sender)."""

    code = "rate_limited"
    http_status = 429
