"""The old provider's IMAP server of a migration: a throwaway Debian Dovecot on loopback ports, IMAP (plain +
STARTTLS) and IMAPS with a self-signed certificate, users from a passwd-file (test-services.md §3)."""

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class OldImap:
    imap_port: int
    imaps_port: int
    users: dict[str, str]


CONFIG = """
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{d}/mail/%d/%n/Maildir
mail_uid = 65534
mail_gid = 65534
first_valid_uid = 100
passdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={d}/mail/%d/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


@pytest.fixture(scope="session")
def old_imap():
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        pytest.skip("Dovecot is not installed")
    import tempfile

    # Dovecot's auth process runs as the dovecot user: its files live outside pytest's 0700 tree.
    d = Path(tempfile.mkdtemp(prefix="mh-old-imap-"))
    d.chmod(0o755)
    for sub in ("run", "state", "mail"):
        (d / sub).mkdir()
    subprocess.run(["chown", "65534:65534", str(d / "mail")], check=False)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=old-imap.test", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
        check=True, capture_output=True,
    )
    users = {"jane@old.test": "old-secret-1", "joe@old.test": "joes-pass-2"}
    (d / "users").write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in users.items()))
    imap, imaps = _free_port(), _free_port()
    (d / "dovecot.conf").write_text(CONFIG.format(d=d, imap=imap, imaps=imaps))
    process = subprocess.Popen([binary, "-F", "-c", str(d / "dovecot.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", imap), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"Dovecot did not start: {process.stderr.read().decode()}")
            time.sleep(0.05)
    yield OldImap(imap_port=imap, imaps_port=imaps, users=users)
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
    shutil.rmtree(d, ignore_errors=True)
