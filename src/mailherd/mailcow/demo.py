"""The demo's Mailcow: the simulator on a local port, registered as a server."""

import secrets
import socket
import sys
import time
from urllib.parse import urlsplit

from mailherd.mailcow.models import MailServer

DEMO_SERVER_NAME = "demo-simulator"
DEMO_SIM_PORT = 8099
DEMO_SIM_STATE_FILE = "demo-mailcow.state"


def _wait_for_port(host: str, port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.1)
    return False


def demo_simulator_processes(*, stdout) -> dict[str, list[str]]:
    """Return the simulator's command for the process group, registering it if needed."""
    if MailServer.objects.exclude(name=DEMO_SERVER_NAME).filter(is_active=True).exists():
        return {}
    from django.conf import settings

    from mailherd.core.supervisor import free_port, port_free

    server = MailServer.objects.filter(name=DEMO_SERVER_NAME).first()
    api_key = server.api_key if server else secrets.token_hex(16).upper()
    port = DEMO_SIM_PORT
    if server is not None:
        port = urlsplit(server.api_url).port or DEMO_SIM_PORT  # where it was last time
    if not port_free("127.0.0.1", port):
        chosen = free_port()
        stdout.write(f"  port {port} is in use: the Mailcow simulator listens on {chosen} instead")
        port = chosen
    url = f"http://127.0.0.1:{port}"
    if server is not None and server.api_url != url:
        MailServer.objects.filter(pk=server.pk).update(api_url=url)
    if server is None:
        MailServer.objects.create(
            name=DEMO_SERVER_NAME,
            api_url=url,
            api_key=api_key,
            hostname="mail.demo.mailherd.test",
            imap_host="mail.demo.mailherd.test",
            pop3_host="mail.demo.mailherd.test",
            smtp_host="mail.demo.mailherd.test",
            webmail_url="https://mail.demo.mailherd.test/SOGo",
        )
    stdout.write(f"  Mailcow simulator:    {url} (no Mailcow server registered)")
    return {
        "mailcow-sim": [
            sys.executable,
            "-m",
            "mailherd",
            "mailcow_sim",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--api-key",
            api_key,
            # Its mailboxes survive a restart, so demo mailboxes stay "active".
            "--state-file",
            str(settings.VAR_DIR / DEMO_SIM_STATE_FILE),
        ]
    }
