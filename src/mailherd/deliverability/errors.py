from mailherd.core.errors import MailherdError


class ReportRejected(MailherdError):
    """A report file was refused; `code` tells which kind of problem (see parsing.ReportRefused)."""

    code = "report_invalid"
    http_status = 422

    def __init__(self, message: str, *, code: str = "report_invalid", **fields):
        super().__init__(message, **fields)
        self.code = code
