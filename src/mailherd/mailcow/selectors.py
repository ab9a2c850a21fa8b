"""Reads about Mailcow servers that customers see."""

from dataclasses import dataclass

# Ports where the connection is TLS from the first byte; every other port (143, 110, 587, 25)
# starts in plain text and upgrades with STARTTLS.
IMPLICIT_TLS_PORTS = frozenset({993, 995, 465})


def port_security(port: int) -> str:
    """The security a mail client must pick for this port: "SSL/TLS" or "STARTTLS"."""
    return "SSL/TLS" if port in IMPLICIT_TLS_PORTS else "STARTTLS"


@dataclass(frozen=True)
class ClientEndpoints:
    """Where mail clients connect: the server's hosts, or the operator's branded names."""

    imap_host: str
    imap_port: int
    pop3_host: str
    pop3_port: int
    smtp_host: str
    smtp_port: int
    webmail_url: str

    @property
    def imap_ssl(self) -> bool:
        return self.imap_port in IMPLICIT_TLS_PORTS

    @property
    def pop3_ssl(self) -> bool:
        return self.pop3_port in IMPLICIT_TLS_PORTS

    @property
    def smtp_ssl(self) -> bool:
        return self.smtp_port in IMPLICIT_TLS_PORTS

    @property
    def imap_security(self) -> str:
        return port_security(self.imap_port)

    @property
    def pop3_security(self) -> str:
        return port_security(self.pop3_port)

    @property
    def smtp_security(self) -> str:
        return port_security(self.smtp_port)


def client_endpoints(server) -> ClientEndpoints:
    """The one place that decides the host names shown in the portal and in client set-up files."""
    from mailherd.operator.selectors import branding_get

    branding = branding_get()
    host = server.public_host
    return ClientEndpoints(
        imap_host=branding.imap_hostname or server.imap_host or host,
        imap_port=server.imap_port,
        pop3_host=branding.imap_hostname or server.pop3_host or host,
        pop3_port=server.pop3_port,
        smtp_host=branding.smtp_hostname or server.smtp_host or host,
        smtp_port=server.smtp_port,
        webmail_url=branding.webmail_url or server.webmail_url,
    )
