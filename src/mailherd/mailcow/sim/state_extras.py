"""Simulator state beyond domains/mailboxes/aliases.

Relayhosts, domain administrators and their SSO tokens, app passwords,
sync jobs, Sieve filters and the quarantine. Mixed into ``SimState``, whose
``lock``, ``domains`` and ``mailboxes`` these methods use. Message keys and
shapes follow reference §5.6 (and Mailcow's source where marked).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .models import UncaughtPdoError
from .php import empty, intval, is_valid_domain_name, now, split_list

if TYPE_CHECKING:
    import threading

    from .state import SimDomain, SimMailbox

Entry = dict[str, Any]
SSO_TOKEN_LIFETIME = 30.0  # seconds (Mailcow's openapi.yaml)


def _entry(type_: str, log: list[Any], msg: Any) -> Entry:
    return {"type": type_, "log": log, "msg": msg}


def _masked(attr: dict[str, Any]) -> dict[str, Any]:
    return {k: ("*" if "pass" in k else v) for k, v in attr.items()}


def ssha256(password: str) -> str:
    """A real {SSHA256} hash (one of Mailcow's schemes), so a test Dovecot can check it."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha256(password.encode() + salt).digest()
    return "{SSHA256}" + base64.b64encode(digest + salt).decode()


def sieve_error(script: str) -> str | None:
    """Return "line N: ..." as Mailcow's PHP Sieve parser words its refusal, or None if valid.

    Mailcow parses every script it is given (``Sieve\\SieveParser``, read from source) and
    answers ``["sieve_error", "line 1: unknown command this"]``. The simulator parses with
    sievelib, which knows the same commands and extensions and, like Mailcow's parser, only
    knows an extension's commands after ``require``; its messages are reworded to Mailcow's.
    """
    from sievelib.parser import Parser

    parser = Parser()
    try:
        if parser.parse(script):
            return None
        error = str(parser.error or "line 1: parse error")
    except Exception as exc:  # noqa: BLE001 - a parser crash is a refusal too
        return f"line 1: {exc}"
    error = re.sub(r"unknown command '([^']*)'", r"unknown command \1", error)
    # Mailcow's registry only knows an extension's commands once it is required.
    match = re.match(r"(line \d+): extension '([^']*)' not loaded", error)
    if match:
        words = re.findall(r"[A-Za-z_][\w.-]*", _line(script, match.group(1)).lstrip("}"))
        command = next((w for w in words if w not in ("if", "elsif", "else")), "")
        if command:
            return f"{match.group(1)}: unknown command {command}"
    return error


def _line(script: str, label: str) -> str:
    number = int(label.split()[1])
    lines = script.replace("\r\n", "\n").split("\n")
    return lines[number - 1].strip() if 0 < number <= len(lines) else ""


@dataclass
class SimRelayhost:
    id: int
    hostname: str
    username: str
    password: str
    active: int = 1


@dataclass
class SimDomainAdmin:
    username: str
    password: str
    domains: list[str]
    active: int = 1
    created: str = field(default_factory=now)


@dataclass
class SimAppPassword:
    id: int
    name: str
    mailbox: str
    password: str
    active: int
    protocols: set[str]
    created: str = field(default_factory=now)


@dataclass
class SimSyncJob:
    id: int
    user2: str
    attrs: dict[str, Any]
    active: int
    created: str = field(default_factory=now)
    is_running: int = 0
    last_run: str | None = None
    success: int | None = None
    exit_status: str | None = None
    log: str = ""


@dataclass
class SimFilter:
    id: int
    username: str
    filter_type: str
    script_desc: str
    script_data: str
    active: int


@dataclass
class SimQuarantineItem:
    id: int
    qid: str
    subject: str
    sender: str
    rcpt: str
    score: float
    action: str
    virus_flag: int
    created: int = field(default_factory=lambda: int(time.time()))
    msg: str = ""  # the raw message (RFC 5322), as rspamd stored it
    learned_ham: bool = False


class ExtrasState:
    """Mixin for SimState holding the secondary objects."""

    lock: threading.RLock
    domains: dict[str, SimDomain]
    mailboxes: dict[str, SimMailbox]

    if TYPE_CHECKING:  # provided by SimState

        @staticmethod
        def password_check(password: Any, password2: Any) -> list[Entry]: ...

    def reset_extras(self) -> None:
        self.relayhosts: dict[int, SimRelayhost] = {}
        self.domain_admins: dict[str, SimDomainAdmin] = {}
        self.sso_tokens: dict[str, tuple[str, float]] = {}
        self.app_passwords: dict[int, SimAppPassword] = {}
        self.syncjobs: dict[int, SimSyncJob] = {}
        self.filters: dict[int, SimFilter] = {}
        self.quarantine: dict[int, SimQuarantineItem] = {}
        self.spam_scores: dict[str, str] = {}  # mailbox -> "low,high" (filterconf rows)
        self.released: list[SimQuarantineItem] = []
        self._next_ids: dict[str, int] = {}

    def _next_id(self, kind: str) -> int:
        self._next_ids[kind] = self._next_ids.get(kind, 0) + 1
        return self._next_ids[kind]

    def forget_domain_links(self, domain: str) -> None:
        for admin in self.domain_admins.values():
            if domain in admin.domains:
                admin.domains.remove(domain)

    def forget_mailbox_links(self, username: str) -> None:
        for table in (self.app_passwords, self.filters):
            for key in [
                k
                for k, v in table.items()
                if getattr(v, "mailbox", getattr(v, "username", "")) == username
            ]:
                del table[key]
        for key in [k for k, job in self.syncjobs.items() if job.user2 == username]:
            del self.syncjobs[key]

    # -- relayhosts -------------------------------------------------------------

    def add_relayhost(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        log = ["relayhost", "add", attr]  # Mailcow does not mask this password
        hostname = str(attr.get("hostname") or "").strip()
        with self.lock:
            if not hostname:
                return [_entry("danger", log, ["invalid_host", ""])], False
            rid = self._next_id("relayhost")
            self.relayhosts[rid] = SimRelayhost(
                id=rid,
                hostname=hostname,
                username=str(attr.get("username") or ""),
                password=str(attr.get("password") or ""),
                active=intval(attr.get("active", 1)),
            )
            return [_entry("success", log, ["relayhost_added", ""])], True

    def edit_relayhost(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        """Omitted fields keep their value; the answer names no host (source: ``$hostnames`` is unset)."""
        entries: list[Entry] = []
        with self.lock:
            for item in attr.get("id") or []:
                log = ["relayhost", "edit", attr]
                host = self.relayhosts.get(intval(item))
                if host is None:
                    entries.append(_entry("danger", log, ["relayhost_invalid", item]))
                    continue
                if not empty(attr.get("hostname")):
                    host.hostname = str(attr["hostname"]).strip()
                if "username" in attr:
                    host.username = str(attr["username"] or "").strip()
                if "password" in attr:
                    host.password = str(attr["password"] or "").strip()
                if "active" in attr:
                    host.active = intval(attr["active"])
                entries.append(_entry("success", log, ["object_modified", ""]))
        return entries, True

    def delete_relayhost(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            for item in attr.get("id") or []:
                log = ["relayhost", "delete", {"id": item}]
                if self.relayhosts.pop(intval(item), None) is None:
                    entries.append(_entry("danger", log, "access_denied"))
                    continue
                for dom in self.domains.values():
                    if dom.relayhost == intval(item):
                        dom.relayhost = 0
                entries.append(_entry("success", log, ["relayhost_removed", str(item)]))
        return entries, True

    # -- domain administrators ------------------------------------------------------

    def add_domain_admin(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        log = ["domain_admin", "add", _masked(attr)]
        username = str(attr.get("username") or "").strip()
        domains = [d.lower() for d in split_list(attr.get("domains")) if d]
        with self.lock:
            if not username or not re.fullmatch(r"[A-Za-z0-9._-]+", username):
                return [_entry("danger", log, ["username_invalid", username])], False
            if username in self.domain_admins or username in self.mailboxes:
                return [_entry("danger", log, ["object_exists", username])], False
            for domain in domains:
                if not is_valid_domain_name(domain):
                    return [_entry("danger", log, "domain_invalid")], False
            problems = self.password_check(attr.get("password"), attr.get("password2"))
            if problems:
                return problems, False
            self.domain_admins[username] = SimDomainAdmin(
                username=username,
                password=str(attr["password"]),
                domains=domains,
                active=intval(attr.get("active", 1)),
            )
            return [_entry("success", log, ["domain_admin_added", username])], True

    def delete_domain_admin(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            for item in attr.get("username") or []:
                log = ["domain_admin", "delete", {"username": item}]
                if self.domain_admins.pop(str(item), None) is None:
                    entries.append(_entry("danger", log, ["username_invalid", str(item)]))
                    continue
                entries.append(_entry("success", log, ["domain_admin_removed", str(item)]))
        return entries, True

    def issue_sso_token(self, attr: dict[str, Any]) -> tuple[list[Entry], dict[str, str] | None]:
        """``add/sso/domain-admin``: ``{"token": ...}`` or an error entry (source)."""
        username = str(attr.get("username") or "")
        with self.lock:
            if username not in self.domain_admins:
                log = ["domain_admin_sso", "issue", attr]
                return [_entry("danger", log, ["object_doesnt_exist", username])], None
            token = "-".join(secrets.token_hex(3).upper() for _ in range(5))
            self.sso_tokens[token] = (username, time.monotonic() + SSO_TOKEN_LIFETIME)
            return [], {"token": token}

    # -- app passwords ------------------------------------------------------------------

    def add_app_passwd(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        log = ["app_passwd", "add", _masked(attr)]
        username = str(attr.get("username") or "")
        with self.lock:
            if username not in self.mailboxes:
                return [_entry("danger", log, "access_denied")], False
            if empty(attr.get("app_name")):
                return [_entry("danger", log, "app_name_empty")], False
            problems = self.password_check(attr.get("app_passwd"), attr.get("app_passwd2"))
            if problems:
                return problems, False
            pid = self._next_id("app_passwd")
            protocols = attr.get("protocols") or []
            self.app_passwords[pid] = SimAppPassword(
                id=pid,
                name=str(attr["app_name"]),
                mailbox=username,
                password=ssha256(str(attr["app_passwd"])),
                active=intval(attr.get("active", 1)),
                protocols={
                    str(p) for p in (protocols if isinstance(protocols, list) else [protocols])
                },
            )
            return [_entry("success", log, "app_passwd_added")], True

    def delete_app_passwd(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            for item in attr.get("id") or []:
                log = ["app_passwd", "delete", {"id": item}]
                if self.app_passwords.pop(intval(item), None) is None:
                    entries.append(_entry("danger", log, "access_denied"))
                    continue
                entries.append(_entry("success", log, ["app_passwd_removed", str(item)]))
        return entries, True

    # -- sync jobs ------------------------------------------------------------------------

    def add_syncjob(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        log = ["mailbox", "add", "syncjob", attr, None]  # password1 not masked (§4)
        username = str(attr.get("username") or "")
        with self.lock:
            if username not in self.mailboxes:
                return [_entry("danger", log, "access_denied")], False
            port = intval(attr.get("port1"))
            interval = intval(attr.get("mins_interval", 20))
            if not 1 <= port <= 65535 or not 1 <= interval <= 43800 or empty(attr.get("host1")):
                return [_entry("danger", log, "access_denied")], False
            if attr.get("enc1", "TLS") not in ("SSL", "TLS", "PLAIN"):
                return [_entry("danger", log, "access_denied")], False
            if attr.get("exclude") is None:
                # `exclude` goes into a NOT NULL column as given (read from source); the
                # other omitted fields get defaults in PHP first.
                raise UncaughtPdoError("imapsync.exclude cannot be null")
            host1, user1 = str(attr.get("host1")).lower(), str(attr.get("user1") or "")
            for job in self.syncjobs.values():
                if (job.user2, str(job.attrs.get("host1")).lower(), job.attrs.get("user1")) == (
                    username,
                    host1,
                    user1,
                ):
                    return [_entry("danger", log, ["object_exists", f"{host1} / {user1}"])], False
            attr = {**attr, "host1": host1}
            jid = self._next_id("syncjob")
            self.syncjobs[jid] = SimSyncJob(
                id=jid, user2=username, attrs=dict(attr), active=intval(attr.get("active", 1))
            )
            # Mailcow answers mailbox_modified, not syncjob_added (§5.6).
            return [_entry("success", log, ["mailbox_modified", username])], True

    def edit_syncjob(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            for item in attr.get("id") or []:
                log = ["mailbox", "edit", "syncjob", attr, None]
                job = self.syncjobs.get(intval(item))
                if job is None:
                    entries.append(_entry("danger", log, "access_denied"))
                    continue
                if "active" in attr:
                    job.active = intval(attr["active"])
                entries.append(_entry("success", log, ["mailbox_modified", job.user2]))
        return entries, True

    def run_syncjob(self, job_id: int, *, success: bool = True, log: str = "", running: bool = False) -> bool:
        """What Dovecot's imapsync cron writes back after a run (no container here)."""
        with self.lock:
            job = self.syncjobs.get(job_id)
            if job is None:
                return False
            job.is_running = int(running)
            job.last_run = now()
            job.success = int(success)
            job.exit_status = "EX_OK" if success else "EXIT_AUTHENTICATION_FAILURE_USER1"
            job.log = log or ("Transferred 42 messages\n" if success else "Failure: can not login\n")
            return True

    def delete_syncjob(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            for item in attr.get("id") or []:
                log = ["mailbox", "delete", "syncjob", {"id": item}, None]
                if self.syncjobs.pop(intval(item), None) is None:
                    entries.append(_entry("danger", log, "access_denied"))
                    continue
                entries.append(_entry("success", log, ["deleted_syncjob", str(item)]))
        return entries, True

    # -- Sieve filters ------------------------------------------------------------------------

    def add_filter(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        log = ["mailbox", "add", "filter", attr, None]
        username = str(attr.get("username") or "")
        with self.lock:
            if username not in self.mailboxes:
                return [_entry("danger", log, "access_denied")], False
            if attr.get("filter_type") not in ("prefilter", "postfilter"):
                return [_entry("danger", log, "filter_type")], False
            problem = sieve_error(str(attr.get("script_data") or ""))
            if problem or empty(attr.get("script_data")):
                return [_entry("danger", log, ["sieve_error", problem or "empty script"])], False
            active = intval(attr.get("active", 1))
            if active:
                # One active script per mailbox and type.
                for other in self.filters.values():
                    if other.username == username and other.filter_type == attr["filter_type"]:
                        other.active = 0
            fid = self._next_id("filter")
            self.filters[fid] = SimFilter(
                id=fid,
                username=username,
                filter_type=str(attr["filter_type"]),
                script_desc=str(attr.get("script_desc") or ""),
                script_data=str(attr["script_data"]),
                active=active,
            )
            return [_entry("success", log, ["mailbox_modified", username])], True

    def delete_filter(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            for item in attr.get("id") or []:
                log = ["mailbox", "delete", "filter", {"id": item}, None]
                if self.filters.pop(intval(item), None) is None:
                    entries.append(_entry("danger", log, "access_denied"))
                    continue
                entries.append(_entry("success", log, ["delete_filter", str(item)]))
        return entries, True

    # -- quarantine ----------------------------------------------------------------------------

    def add_quarantine_item(self, **fields: Any) -> SimQuarantineItem:
        """Put a message in quarantine (what rspamd does on a real server)."""
        with self.lock:
            qid = self._next_id("quarantine")
            item = SimQuarantineItem(
                id=qid,
                qid=str(fields.get("qid") or secrets.token_hex(5).upper()),
                subject=str(fields.get("subject", "Quarantined message")),
                sender=str(fields.get("sender", "spammer@example.net")),
                rcpt=str(fields.get("rcpt", "")),
                score=float(fields.get("score", 15.0)),
                action=str(fields.get("action", "reject")),
                virus_flag=int(bool(fields.get("virus", False))),
            )
            item.msg = str(
                fields.get("msg")
                or (
                    f"From: {item.sender}\r\nTo: {item.rcpt}\r\nSubject: {item.subject}\r\n"
                    f"Message-ID: <{item.qid}@sim.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                    f"{fields.get('body', 'Held by the spam filter.')}\r\n"
                )
            )
            self.quarantine[qid] = item
            return item

    def edit_qitem(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            if attr.get("action") not in ("release", "learnham"):
                return [_entry("danger", ["quarantine", "edit", attr], "access_denied")], False
            for item in attr.get("id") or []:
                log = ["quarantine", "edit", attr]
                found = self.quarantine.pop(intval(item), None) if str(item).isdigit() else None
                if found is None:
                    entries.append(_entry("danger", log, "access_denied"))
                    continue
                self.released.append(found)
                entries.append(_entry("success", log, ["item_released", str(item)]))
                # Both actions share one branch in Mailcow: released, then learned as ham (source).
                found.learned_ham = True
                entries.append(_entry("success", log, ["learned_ham", str(item)]))
        return entries, True

    def delete_qitem(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            for item in attr.get("id") or []:
                log = ["quarantine", "delete", attr]
                if not str(item).isdigit():
                    entries.append(_entry("danger", log, "access_denied"))
                    continue
                # Mailcow deletes by id without checking existence (source).
                self.quarantine.pop(intval(item), None)
                entries.append(_entry("success", log, ["item_deleted", str(item)]))
        return entries, True

    # -- per-mailbox quarantine and spam settings (source: functions.mailbox.inc.php) ------------

    def edit_quarantine_setting(self, key: str, allowed: tuple[str, ...], attr: dict[str, Any]):
        entries: list[Entry] = []
        with self.lock:
            for username in attr.get("username") or []:
                log = ["mailbox", "edit", key, attr, None]
                mailbox = self.mailboxes.get(str(username))
                if mailbox is None or attr.get(key) not in allowed:
                    entries.append(_entry("danger", log, "access_denied"))
                    continue
                mailbox.attributes[key] = str(attr[key])
                entries.append(_entry("success", log, ["mailbox_modified", str(username)]))
        return entries, True

    def edit_spam_score(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            for username in attr.get("username") or []:
                log = ["mailbox", "edit", "spam_score", attr, None]
                if str(username) not in self.mailboxes:
                    entries.append(_entry("danger", log, "access_denied"))
                    continue
                score = str(attr.get("spam_score") or "")
                if score == "default":
                    self.spam_scores.pop(str(username), None)
                else:
                    parts = score.split(",")
                    try:
                        low, high = (float(x) for x in parts)
                    except ValueError:
                        low = high = None
                    if len(parts) != 2 or low is None or high is None or low > high:
                        entries.append(_entry("danger", log, 'Invalid spam score, format must be "1,2" '
                                              "where first is low and second is high spam value."))
                        continue
                    self.spam_scores[str(username)] = f"{low:g},{high:g}"
                entries.append(_entry("success", log, ["mailbox_modified", str(username)]))
        return entries, True

    # -- usage (what Dovecot's quota dict writes) ---------------------------------------------

    def set_usage(
        self, username: str, *, quota_used: int | None = None, messages: int | None = None
    ) -> bool:
        """Set a mailbox's usage numbers; return False if the mailbox is unknown."""
        with self.lock:
            mailbox = self.mailboxes.get(username)
            if mailbox is None:
                return False
            if quota_used is not None:
                mailbox.quota_used = int(quota_used)
            if messages is not None:
                mailbox.messages = int(messages)
            return True
