from mailherd.core.errors import (
    Conflict,
    DomainNotVerified,
    DomainTaken,
    InvalidAddress,
    PlanLimitExceeded,
)

__all__ = [
    "AddressInUse",
    "DomainExists",
    "DomainNotVerified",
    "DomainTaken",
    "InvalidAddress",
    "PlanLimitExceeded",
    "NoMailServer",
]


class AddressInUse(Conflict):
    code = "address_in_use"


class DomainExists(Conflict):
    """The organization already has this domain (another organization's is DomainTaken)."""

    code = "domain_exists"


class NoMailServer(Conflict):
    code = "no_mail_server"
