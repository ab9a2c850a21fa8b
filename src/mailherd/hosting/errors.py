from mailherd.core.errors import (
    Conflict,
    DomainNotVerified,
    DomainTaken,
    InvalidAddress,
    PlanLimitExceeded,
)

__all__ = [
    "AddressInUse",
    "DomainNotVerified",
    "DomainTaken",
    "InvalidAddress",
    "PlanLimitExceeded",
    "NoMailServer",
]


class AddressInUse(Conflict):
    code = "address_in_use"


class NoMailServer(Conflict):
    code = "no_mail_server"
