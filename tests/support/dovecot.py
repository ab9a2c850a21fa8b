"""A real Dovecot (Debian's imapd + lmtpd) on loopback ports, for the IMAP watcher's tests.

Logins are checked against a passwd-file that the tests fill (`set_password`,
or `sync_app_passwords` to copy the Mailcow simulator's app password hashes,
as Mailcow's own Dovecot would accept them); mail arrives over LMTP
(`deliver`) into Maildirs under the fixture's directory.
"""

import os
import shutil
import smtplib
import socket
import subprocess
import time
from pathlib import Path

import pytest

DOVECOT = "/usr/sbin/dovecot"
MAIL_UID = 65534


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CONFIG = """\
protocols = imap lmtp
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_cache_size = 0
mail_location = maildir:{d}/mail/%d/%n/Maildir
mail_uid = {uid}
mail_gid = {uid}
first_valid_uid = 100
default_process_limit = 3000
default_client_limit = 6000
default_vsz_limit = 0
# Idle IMAP connections move to one imap-hibernate process: a thousand watched mailboxes
# cost a thousand sockets there, not a thousand imap processes.
imap_hibernate_timeout = 2s
passdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={uid} home={d}/mail/%d/%n allow_all_users=yes
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  service_count = 0
  process_min_avail = 1
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
service imap {{
  unix_listener imap-master {{
    mode = 0666
  }}
}}
service imap-hibernate {{
  unix_listener imap-hibernate {{
    mode = 0666
  }}
}}
"""


class Dovecot:
    def __init__(self, directory: Path):
        self.directory = directory
        self.imap_port = _free_port()
        self.lmtp_port = _free_port()
        self.process = None
        self.users: dict[str, str] = {}
        self._stamp = 0

    def start(self) -> "Dovecot":
        d = self.directory
        for sub in ("run", "state", "mail"):
            (d / sub).mkdir(exist_ok=True)
        os.chown(d / "mail", MAIL_UID, MAIL_UID)
        self._write_users()
        (d / "dovecot.conf").write_text(
            CONFIG.format(d=d, uid=MAIL_UID, imap_port=self.imap_port, lmtp_port=self.lmtp_port)
        )
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(d / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.imap_port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"Dovecot did not start; see {d / 'dovecot.log'}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None

    # -- logins ---------------------------------------------------------------------------

    def _write_users(self) -> None:
        lines = "".join(f"{user}:{password}::::::\n" for user, password in self.users.items())
        path = self.directory / "users"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(lines)
        # Dovecot re-reads the file when its mtime (whole seconds) or size changes: a rewrite
        # within the same second with the same size (a new app password for the same user)
        # would go unseen, so every version gets an mtime of its own.
        self._stamp = max(int(time.time()), self._stamp + 1)
        os.utime(temporary, (self._stamp, self._stamp))
        temporary.replace(path)
        # And it looks at the file at most once a second: a login earlier in this second has it
        # keep the old logins until the next one. Wait for that second.
        time.sleep(1.01 - time.time() % 1)

    def set_password(self, address: str, password: str) -> None:
        """`password` is a plain text (stored as {PLAIN}) or a {SCHEME}hash."""
        self.users[address] = password if password.startswith("{") else "{PLAIN}" + password
        self._write_users()

    def sync_app_passwords(self, sim_state) -> int:
        """Let every mailbox log in with its newest IMAP app password from the simulator."""
        count = 0
        with sim_state.lock:
            for item in sorted(sim_state.app_passwords.values(), key=lambda p: p.id):
                if item.active and "imap_access" in item.protocols:
                    self.users[item.mailbox] = item.password
                    count += 1
        self._write_users()
        return count

    def reset_mail(self) -> None:
        # A session that just closed may still be writing its index: try again briefly.
        for _ in range(20):
            shutil.rmtree(self.directory / "mail", ignore_errors=True)
            if not (self.directory / "mail").exists():
                break
            time.sleep(0.1)
        (self.directory / "mail").mkdir(exist_ok=True)
        os.chown(self.directory / "mail", MAIL_UID, MAIL_UID)
        if self.users:
            self.users.clear()
            self._write_users()

    # -- mail -----------------------------------------------------------------------------

    def deliver(
        self, recipient: str, message: bytes | str, sender: str = "sender@outside.test"
    ) -> None:
        """Deliver over LMTP, as Postfix hands mail to Mailcow's Dovecot."""
        if isinstance(message, str):
            message = message.replace("\r\n", "\n").replace("\n", "\r\n").encode()
        with smtplib.LMTP("127.0.0.1", self.lmtp_port) as lmtp:
            lmtp.sendmail(sender, [recipient], message)

    def imap(self, address: str, password: str):
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", port=self.imap_port, ssl=False, timeout=10)
        client.login(address, password)
        return client


@pytest.fixture(scope="session")
def dovecot_server(tmp_path_factory):
    if not os.path.exists(DOVECOT) or not os.path.exists("/usr/lib/dovecot/lmtp"):
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)")
    import tempfile

    # Under /tmp itself: the mail user (nobody) cannot enter pytest's 0700 temporary folders.
    directory = Path(tempfile.mkdtemp(prefix="mh-dovecot-"))
    os.chmod(directory, 0o755)
    server = Dovecot(directory).start()
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def dovecot(dovecot_server):
    """The session's Dovecot with no mail and no logins."""
    dovecot_server.reset_mail()
    return dovecot_server
