"""A real IMAP login against a customer's old server, before a sync job is created.

The host is customer-supplied: it is resolved once, every address is checked
by `mailherd.core.netguard` (no loopback, private or metadata addresses unless
the operator allows them), and the connection goes to the checked address,
while TLS still verifies the certificate against the host name.
"""

import imaplib
import socket
import ssl

from mailherd.core import netguard
from mailherd.core.errors import MailherdError

DEFAULT_TIMEOUT = 15.0


class SourceLoginFailed(MailherdError):
    code = "source_login_failed"
    http_status = 422


def _fail(reason: str, message: str) -> SourceLoginFailed:
    return SourceLoginFailed(
        message, reason=reason, field="password" if reason == "wrong_credentials" else "host"
    )


class _PinnedIMAP(imaplib.IMAP4):
    """IMAP4 that connects to an address checked in advance (the name is kept for TLS)."""

    def __init__(
        self, host: str, port: int, address: str, timeout: float, tls: ssl.SSLContext | None
    ):
        self._address, self._tls = address, tls
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self._address, self.port), timeout)
        if self._tls is not None:
            return self._tls.wrap_socket(sock, server_hostname=self.host)
        return sock


def imap_login_test(
    *,
    host: str,
    port: int,
    security: str,
    user: str,
    password: str,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Log in and out; raise SourceLoginFailed saying plainly what went wrong (`reason`:
    unreachable, tls_failed, wrong_credentials, protocol_error)."""
    netguard.check_host(
        host, resolve=False, port=port
    )  # literal addresses, odd spellings, localhost
    addresses = netguard.resolve_host(host, port)
    if not addresses:
        raise _fail("unreachable", f"{host} was not found in DNS. Check the server name.")
    for ip in addresses:
        netguard.check_address(ip, host=host)
    context = ssl.create_default_context()
    connection = None
    try:
        connection = _PinnedIMAP(
            host, port, str(addresses[0]), timeout, context if security == "ssl" else None
        )
        if security == "starttls":
            connection.starttls(context)
        connection.login(user, password)
    except ssl.SSLCertVerificationError as exc:
        raise _fail(
            "tls_failed",
            f"The TLS certificate of {host} is not valid ({exc.verify_message}). Check the server name, "
            "or ask the old provider for the right one.",
        ) from None
    except (ssl.SSLError, imaplib.IMAP4.abort) as exc:
        raise _fail(
            "tls_failed",
            f"A secure connection to {host}:{port} could not be set up ({_short(exc)}). Check the port and "
            "the security setting (port 993 is usually SSL/TLS, 143 STARTTLS).",
        ) from None
    except imaplib.IMAP4.error as exc:
        text = _short(exc)
        if "STARTTLS" in text.upper() or "TLS" in text.upper():
            raise _fail("tls_failed", f"{host}:{port} does not offer STARTTLS ({text}).") from None
        raise _fail(
            "wrong_credentials",
            f"{host} refused the user name or password ({text}). Check them with the old provider.",
        ) from None
    except TimeoutError:
        raise _fail(
            "unreachable", f"{host}:{port} did not answer within {timeout:.0f} seconds."
        ) from None
    except ConnectionRefusedError:
        raise _fail("unreachable", f"{host} refused the connection on port {port}.") from None
    except OSError as exc:
        raise _fail("unreachable", f"{host}:{port} could not be reached ({_short(exc)}).") from None
    finally:
        if connection is not None:
            try:
                connection.logout()
            except (imaplib.IMAP4.error, OSError):
                pass


def _short(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip()[:200] or exc.__class__.__name__
