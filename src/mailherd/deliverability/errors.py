from mailherd.core.errors import MailherdError


class ReportRejected(MailherdError):
    """A report file was refused; `code` tells which kind of problem (see parsing.ReportRefused)."""

    code = "report_invalid"
    http_status = 422

    def __init__(self, message: str, *, code: str = "report_invalid", **fields):
        super().__init__(message, **fields)
        self.code = code


class ProposalNotReady(MailherdError):
    """The reports do not (yet) support tightening the DMARC policy."""

    code = "proposal_not_ready"
    http_status = 409
