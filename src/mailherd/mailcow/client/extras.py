"""MailcowClient methods beyond domains/mailboxes/aliases.

DKIM, rate limits, quarantine, relayhosts, domain administrators (and their
SSO token), app passwords, sync jobs, Sieve filters and status. Split from
``client.py`` to keep modules short; ``MailcowClient`` inherits it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from . import constants as c
from . import validation as v
from .errors import (
    MailcowAlreadyExists,
    MailcowInvalidInput,
    MailcowNotFound,
    MailcowProtocolError,
    MailcowValidationError,
)
from .shapes import as_list, as_object, flag, segment
from .transport import Transport
from .types import (
    AppPassword,
    DkimKey,
    DomainAdmin,
    Protocol,
    QuarantinedMessage,
    QuarantineItem,
    RateLimit,
    Relayhost,
    SieveFilter,
    SsoToken,
    SyncJob,
    Version,
    WriteResult,
)

SYNC_ENCRYPTIONS = ("SSL", "TLS", "PLAIN")
QUARANTINE_INTERVALS = ("never", "hourly", "daily", "weekly")
QUARANTINE_CATEGORIES = ("reject", "add_header", "all")
SYNC_DEFAULT_EXCLUDE = "(?i)spam|(?i)junk"  # what Mailcow's own form sends
FILTER_TYPES = ("prefilter", "postfilter")


class ClientBase:
    """The write helpers every method uses (see MailcowClient)."""

    _t: Transport

    def _add(self, category: str, attr: dict[str, Any], **kw: Any) -> WriteResult:
        return WriteResult(self._t.write(f"add/{category}", attr, **kw))

    def _edit(
        self, category: str, items: Sequence[str], attr: dict[str, Any], **kw: Any
    ) -> WriteResult:
        # The ``attr`` wrapper is mandatory: without it Mailcow silently
        # changes nothing and still answers success (reference §3).
        body = {"items": list(items), "attr": attr}
        return WriteResult(self._t.write(f"edit/{category}", body, **kw))

    def _delete(self, category: str, items: Sequence[str], **kw: Any) -> WriteResult:
        # Deletes take a bare JSON array; {"items": [...]} is misread (§3).
        return WriteResult(self._t.write(f"delete/{category}", list(items), **kw))

    def _get_list(self, path: str) -> list[dict[str, Any]]:
        return as_list(self._t.get(path), path)

    def _get_object(self, path: str) -> dict[str, Any] | None:
        return as_object(self._t.get(path), path)


def _newest(items: Iterable[Any]) -> Any:
    """Return the item with the highest id (Mailcow returns no id on add)."""
    found = max(items, key=lambda item: item.id, default=None)
    if found is None:
        raise MailcowProtocolError("object added but not found when re-listing", method="GET")
    return found


class ExtrasMixin(ClientBase):
    """DKIM, rate limits, quarantine, relayhosts, admins, app passwords..."""

    # -- DKIM ----------------------------------------------------------------

    def add_dkim(
        self,
        domain: str,
        *,
        selector: str = c.DEFAULT_DKIM_SELECTOR,
        key_size: int = c.DEFAULT_DKIM_KEY_SIZE,
    ) -> WriteResult:
        """Generate a DKIM key for an existing domain.

        Raises MailcowAlreadyExists if the domain already has a key (delete
        it first to rotate; Mailcow says ``dkim_domain_or_sel_invalid``, and
        the selector was validated here), MailcowNotFound for an unknown domain.
        """
        name = v.normalize_domain(domain)
        sel, size = v.check_dkim(selector, key_size)
        attr = {"domains": name, "dkim_selector": sel, "key_size": size}
        return self._add(
            "dkim", attr, overrides={"dkim_domain_or_sel_invalid": MailcowAlreadyExists}
        )

    def import_dkim(
        self,
        domain: str,
        *,
        private_key_pem: str,
        selector: str = c.DEFAULT_DKIM_SELECTOR,
        overwrite: bool = True,
    ) -> WriteResult:
        """Install a DKIM key Mailherd holds (``add/dkim_import``, admin keys only).

        Mailcow derives the public key from the PEM private key and stores both,
        replacing the domain's key when ``overwrite``. So a key deleted on the
        server can be put back exactly, and the published DNS record stays
        valid. Raises MailcowInvalidInput for a key Mailcow cannot read
        (``private_key_error``), MailcowAlreadyExists when the domain has a key
        and not ``overwrite`` (``dkim_domain_or_sel_exists``).
        """
        name = v.normalize_domain(domain)
        sel, _size = v.check_dkim(selector, c.DEFAULT_DKIM_KEY_SIZE)
        if not isinstance(private_key_pem, str) or "PRIVATE KEY-----" not in private_key_pem:
            raise MailcowValidationError("a PEM private key is required", field="private_key_pem")
        attr = {
            "domain": name,
            "dkim_selector": sel,
            "private_key_file": private_key_pem,
            "overwrite_existing": flag(overwrite),
        }
        return self._add(
            "dkim_import",
            attr,
            overrides={
                "private_key_error": MailcowInvalidInput,
                "dkim_domain_or_sel_exists": MailcowAlreadyExists,
            },
        )

    def get_dkim(self, domain: str) -> DkimKey | None:
        """Return the domain's DKIM key, or None. Keys outlive their domain."""
        name = v.normalize_domain(domain)
        obj = self._get_object(f"get/dkim/{segment(name)}")
        return DkimKey.from_api(name, obj) if obj else None

    def delete_dkim(self, domain: str) -> WriteResult:
        """Delete the domain's DKIM key."""
        return self._delete("dkim", [v.normalize_domain(domain)])

    # -- rate limits ---------------------------------------------------------

    def _rate_limit(self, kind: str, item: str) -> RateLimit | None:
        return RateLimit.from_api(self._get_object(f"get/{kind}/{segment(item)}"))

    def _rate_limits(self, kind: str, key: str) -> dict[str, RateLimit]:
        limits: dict[str, RateLimit] = {}
        for obj in self._get_list(f"get/{kind}/all"):
            limit = RateLimit.from_api(obj)
            if limit and obj.get(key):
                limits[str(obj[key])] = limit
        return limits

    def _set_rate_limit(self, kind: str, item: str, value: int, frame: str) -> WriteResult:
        count, unit = v.check_rate_limit(value, frame)
        # Mailcow clears the limit when rl_value is empty or 0.
        attr = {"rl_value": str(count) if count else "", "rl_frame": unit}
        return self._edit(kind, [item], attr)

    def get_domain_rate_limit(self, domain: str) -> RateLimit | None:
        """Return the domain's own sending limit, or None."""
        return self._rate_limit("rl-domain", v.normalize_domain(domain))

    def list_domain_rate_limits(self) -> dict[str, RateLimit]:
        """Return {domain: limit} for every domain that has one."""
        return self._rate_limits("rl-domain", "domain")

    def set_domain_rate_limit(self, domain: str, value: int, frame: str) -> WriteResult:
        """Limit a domain to ``value`` messages per ``frame`` (s/m/h/d)."""
        return self._set_rate_limit("rl-domain", v.normalize_domain(domain), value, frame)

    def clear_domain_rate_limit(self, domain: str) -> WriteResult:
        """Remove a domain's limit."""
        return self._set_rate_limit("rl-domain", v.normalize_domain(domain), 0, "s")

    def get_mailbox_rate_limit(self, address: str) -> RateLimit | None:
        """Return the mailbox's own limit (an inherited domain limit is not shown)."""
        return self._rate_limit("rl-mbox", v.normalize_address(address))

    def list_mailbox_rate_limits(self) -> dict[str, RateLimit]:
        """Return {address: limit} for every mailbox with its own limit."""
        return self._rate_limits("rl-mbox", "mailbox")

    def set_mailbox_rate_limit(self, address: str, value: int, frame: str) -> WriteResult:
        """Limit a mailbox to ``value`` messages per ``frame`` (s/m/h/d)."""
        return self._set_rate_limit("rl-mbox", v.normalize_address(address), value, frame)

    def clear_mailbox_rate_limit(self, address: str) -> WriteResult:
        """Remove a mailbox's own limit."""
        return self._set_rate_limit("rl-mbox", v.normalize_address(address), 0, "s")

    # -- quarantine ----------------------------------------------------------

    def list_quarantine(self) -> list[QuarantineItem]:
        """Return the quarantined messages (Mailcow answers ``[]`` when empty)."""
        return [QuarantineItem.from_api(o) for o in self._get_list("get/quarantine/all")]

    def get_quarantine_item(self, item_id: int) -> QuarantinedMessage | None:
        """Return one held message with its raw source, or None (read from source:
        ``get/quarantine/<id>`` is the table row, ``[]`` when unknown)."""
        obj = self._get_object(f"get/quarantine/{v.check_id(item_id, field='item_id')}")
        return QuarantinedMessage.from_api(obj) if obj else None

    def release_quarantine(self, item_id: int, *, learn_ham: bool = False) -> WriteResult:
        """Deliver a quarantined message to its recipient and drop it.

        ``learn_ham`` sends ``learnham``; in Mailcow 2026-07a both actions release and
        then teach rspamd the message as ham (read from source).
        """
        item = str(v.check_id(item_id, field="item_id"))
        return self._edit("qitem", [item], {"action": "learnham" if learn_ham else "release"})

    def delete_quarantine(self, item_id: int) -> WriteResult:
        """Delete a quarantined message."""
        return self._delete("qitem", [str(v.check_id(item_id, field="item_id"))])

    # -- per-mailbox quarantine and spam settings (read from source) ------------

    def set_quarantine_notification(self, mailbox: str, interval: str) -> WriteResult:
        """How often the mailbox hears about held mail: never, hourly, daily or weekly."""
        if interval not in QUARANTINE_INTERVALS:
            raise v.MailcowValidationError(
                f"interval must be one of {QUARANTINE_INTERVALS}", field="interval"
            )
        address = v.normalize_address(mailbox, field="mailbox")
        return self._edit(
            "quarantine_notification", [address], {"quarantine_notification": interval}
        )

    def set_quarantine_category(self, mailbox: str, category: str) -> WriteResult:
        """Which held mail the notices list: reject, add_header (spam folder) or all."""
        if category not in QUARANTINE_CATEGORIES:
            raise v.MailcowValidationError(
                f"category must be one of {QUARANTINE_CATEGORIES}", field="category"
            )
        address = v.normalize_address(mailbox, field="mailbox")
        return self._edit("quarantine_category", [address], {"quarantine_category": category})

    def set_spam_score(self, mailbox: str, low: float | None, high: float | None) -> WriteResult:
        """Spam thresholds of a mailbox (``low``: to the spam folder, ``high``: rejected);
        None for both goes back to the server's defaults."""
        address = v.normalize_address(mailbox, field="mailbox")
        if low is None and high is None:
            score = "default"
        else:
            if not all(isinstance(x, int | float) and 0 <= x <= 9999 for x in (low, high)) or low > high:
                raise v.MailcowValidationError("need 0 <= low <= high", field="spam_score")
            score = f"{low:g},{high:g}"
        return self._edit("spam-score", [address], {"spam_score": score})

    def get_spam_score(self, mailbox: str) -> tuple[float, float] | None:
        """The mailbox's own thresholds (low, high), or None for the defaults."""
        address = v.normalize_address(mailbox, field="mailbox")
        obj = self._get_object(f"get/spam-score/{segment(address)}") or {}
        try:
            low, high = (float(x) for x in str(obj.get("score") or "").split(","))
        except ValueError:
            return None
        return low, high

    # -- relayhosts ----------------------------------------------------------

    def add_relayhost(
        self, hostname: str, *, username: str = "", password: str = "", active: bool = True
    ) -> Relayhost:
        """Create a relayhost (``[host]:port``) and return it.

        Mailcow does not return the id, so the list is re-read and the newest
        entry with this hostname and username is returned.
        """
        host = v.check_hostname_port(hostname)
        attr = {
            "hostname": host,
            "username": v.check_text(username, field="username"),
            "password": v.check_text(password, field="password", max_length=1024),
            "active": flag(active),
        }
        self._add("relayhost", attr)
        return _newest(
            r
            for r in self.list_relayhosts()
            if r.hostname == host and r.username == attr["username"]
        )

    def edit_relayhost(
        self,
        relayhost_id: int,
        *,
        hostname: str | None = None,
        username: str | None = None,
        password: str | None = None,
        active: bool | None = None,
    ) -> WriteResult:
        """Change a relayhost; omitted fields keep their value (``edit/relayhost``, read from
        source). Raises MailcowNotFound for an unknown id (``relayhost_invalid``)."""
        attr: dict[str, Any] = {}
        if hostname is not None:
            attr["hostname"] = v.check_hostname_port(hostname)
        if username is not None:
            attr["username"] = v.check_text(username, field="username")
        if password is not None:
            attr["password"] = v.check_text(password, field="password", max_length=1024)
        if active is not None:
            attr["active"] = flag(active)
        if not attr:
            raise v.MailcowValidationError("no attribute to change was given", field="attr")
        return self._edit(
            "relayhost",
            [str(v.check_id(relayhost_id))],
            attr,
            overrides={"relayhost_invalid": MailcowNotFound},
        )

    def list_relayhosts(self) -> list[Relayhost]:
        """Return every relayhost (passwords dropped)."""
        return [Relayhost.from_api(o) for o in self._get_list("get/relayhost/all")]

    def get_relayhost(self, relayhost_id: int) -> Relayhost | None:
        """Return one relayhost, or None."""
        obj = self._get_object(f"get/relayhost/{v.check_id(relayhost_id)}")
        return Relayhost.from_api(obj) if obj else None

    def delete_relayhost(self, relayhost_id: int) -> WriteResult:
        """Delete a relayhost."""
        return self._delete("relayhost", [str(v.check_id(relayhost_id))])

    def assign_relayhost(self, domain: str, relayhost_id: int | None) -> WriteResult:
        """Route a domain's outgoing mail through a relayhost (None = direct)."""
        rid = 0 if relayhost_id is None else v.check_id(relayhost_id)
        name = v.normalize_domain(domain)
        return self._edit(
            "domain", [name], {"relayhost": rid}, overrides={"domain_invalid": MailcowNotFound}
        )

    # -- domain administrators -----------------------------------------------

    def add_domain_admin(
        self, username: str, *, password: str, domains: Iterable[str], active: bool = True
    ) -> WriteResult:
        """Create a domain administrator managing ``domains``.

        Raises MailcowAlreadyExists (``object_exists``) or MailcowInvalidInput.
        """
        secret = v.check_password(password)
        attr = {
            "username": v.check_username(username),
            "domains": [v.normalize_domain(d, field="domains") for d in domains],
            "password": secret,
            "password2": secret,
            "active": flag(active),
        }
        return self._add("domain-admin", attr)

    def list_domain_admins(self) -> list[DomainAdmin]:
        """Return every domain administrator."""
        return [DomainAdmin.from_api(o) for o in self._get_list("get/domain-admin/all")]

    def get_domain_admin(self, username: str) -> DomainAdmin | None:
        """Return one domain administrator, or None."""
        obj = self._get_object(f"get/domain-admin/{segment(v.check_username(username))}")
        return DomainAdmin.from_api(obj) if obj else None

    def delete_domain_admin(self, username: str) -> WriteResult:
        """Delete a domain administrator."""
        return self._delete("domain-admin", [v.check_username(username)])

    def issue_domain_admin_sso_token(self, username: str) -> SsoToken:
        """Issue a one-time login token for a domain admin (valid ~30 s).

        ``POST /api/v1/add/sso/domain-admin`` (from Mailcow's source and
        openapi.yaml, not in the recorded reference). The admin logs in at
        ``<mailcow>/?sso_token=<token>``. Raises MailcowNotFound for an
        unknown user (``object_doesnt_exist``).
        """
        name = v.check_username(username)
        data = self._t.post_raw("add/sso/domain-admin", {"username": name})
        if isinstance(data, dict) and isinstance(data.get("token"), str) and data["token"]:
            return SsoToken(username=name, token=data["token"])
        # Failure comes back in the usual envelope: let the parser raise.
        if isinstance(data, list | dict):
            self._t.check_envelope(data, "add/sso/domain-admin")
        raise MailcowProtocolError(
            "Mailcow did not return an SSO token",
            method="POST",
            path="add/sso/domain-admin",
            status=200,
        )

    # -- identity provider (single sign-on) -------------------------------------

    def get_identity_provider(self) -> dict[str, Any] | None:
        """The one identity provider's settings, or None. Mailcow returns ``client_secret`` in clear."""
        return self._get_object("get/identity-provider")

    def set_identity_provider(self, attr: dict[str, Any]) -> WriteResult:
        """Write the identity provider (``edit/identity-provider``).

        Mailcow names the first missing field (``["required_data_missing",
        "authorize_url"]``) and refuses to change the type while mailboxes use
        another authsource (``authsource_in_use``); it contacts nothing.
        """
        if not isinstance(attr, dict) or not attr.get("authsource"):
            raise v.MailcowValidationError("attr must name an authsource", field="authsource")
        return self._edit("identity-provider", ["identity-provider"], dict(attr))

    def test_identity_provider(self, attr: dict[str, Any]) -> WriteResult:
        """``edit/identity-provider-test``: for generic-oidc Mailcow sends one OPTIONS to
        ``token_url`` and wants 200; otherwise it answers "Cannot edit item" (raised)."""
        return self._edit("identity-provider-test", ["identity-provider"], dict(attr))

    def delete_identity_provider(self) -> WriteResult:
        """Remove the identity provider (``authsource_in_use`` while mailboxes use it)."""
        return self._delete("identity-provider", ["identity-provider"])

    # -- app passwords -------------------------------------------------------

    def add_app_password(
        self,
        mailbox: str,
        *,
        name: str,
        password: str,
        protocols: Iterable[Protocol | str] = (Protocol.IMAP, Protocol.SMTP),
        active: bool = True,
    ) -> AppPassword:
        """Create an app password for a mailbox and return it (re-listed)."""
        address = v.normalize_address(mailbox, field="mailbox")
        secret = v.check_password(password)
        try:
            wanted = [Protocol(p) for p in protocols]
        except ValueError as exc:
            raise v.MailcowValidationError(str(exc), field="protocols") from None
        attr = {
            "username": address,
            "app_name": v.check_text(name, field="name"),
            "app_passwd": secret,
            "app_passwd2": secret,
            "active": flag(active),
            "protocols": [f"{p.value}_access" for p in wanted],
        }
        self._add("app-passwd", attr)
        return _newest(p for p in self.list_app_passwords(address) if p.name == attr["app_name"])

    def list_app_passwords(self, mailbox: str) -> list[AppPassword]:
        """Return a mailbox's app passwords (hashes dropped)."""
        address = v.normalize_address(mailbox, field="mailbox")
        return [
            AppPassword.from_api(o)
            for o in self._get_list(f"get/app-passwd/all/{segment(address)}")
        ]

    def delete_app_password(self, app_password_id: int) -> WriteResult:
        """Delete an app password."""
        return self._delete("app-passwd", [str(v.check_id(app_password_id))])

    # -- sync jobs -----------------------------------------------------------

    def add_sync_job(
        self,
        mailbox: str,
        *,
        host: str,
        user: str,
        password: str,
        port: int = 993,
        encryption: str = "SSL",
        interval_minutes: int = 20,
        delete_from_source: bool = False,
        active: bool = True,
        subfolder: str = "",
        max_age_days: int = 0,
        max_bytes_per_second: int = 0,
        timeout_seconds: int = 600,
        exclude: str = SYNC_DEFAULT_EXCLUDE,
        delete_duplicates: bool = True,
        delete_missing_from_target: bool = False,
        automap: bool = True,
        skip_cross_duplicates: bool = False,
        subscribe_all: bool = True,
        dry_run: bool = False,
    ) -> SyncJob:
        """Create an imapsync job importing ``user@host`` into ``mailbox``.

        Every column is sent, with the defaults of Mailcow's own form: a partial
        field set makes the INSERT fail on NOT NULL columns and Mailcow answers
        an empty 200 (reference §10).
        """
        address = v.normalize_address(mailbox, field="mailbox")
        if encryption not in SYNC_ENCRYPTIONS:
            raise v.MailcowValidationError(
                f"encryption must be one of {SYNC_ENCRYPTIONS}", field="encryption"
            )
        attr = {
            "username": address,
            "host1": v.check_hostname_port(host, field="host"),
            "port1": v.check_int(port, field="port", minimum=1, maximum=65535),
            "user1": v.check_text(user, field="user"),
            "password1": v.check_password(password),
            "enc1": encryption,
            "mins_interval": v.check_int(
                interval_minutes, field="interval_minutes", minimum=1, maximum=43800
            ),
            "subfolder2": v.check_text(subfolder, field="subfolder"),
            "maxage": v.check_int(max_age_days, field="max_age_days", minimum=0, maximum=32000),
            "maxbytespersecond": v.check_int(
                max_bytes_per_second, field="max_bytes_per_second", minimum=0, maximum=125000000
            ),
            "timeout1": v.check_int(timeout_seconds, field="timeout_seconds", minimum=1, maximum=32000),
            "timeout2": v.check_int(timeout_seconds, field="timeout_seconds", minimum=1, maximum=32000),
            "exclude": v.check_text(exclude, field="exclude"),
            "custom_params": "",
            "delete2duplicates": flag(delete_duplicates),
            "delete1": flag(delete_from_source),
            "delete2": flag(delete_missing_from_target),
            "automap": flag(automap),
            "skipcrossduplicates": flag(skip_cross_duplicates),
            "subscribeall": flag(subscribe_all),
            "dry": flag(dry_run),
            "active": flag(active),
        }
        self._add("syncjob", attr)
        return _newest(
            j
            for j in self.list_sync_jobs()
            if j.mailbox == address and j.host == attr["host1"] and j.user == attr["user1"]
        )

    def list_sync_jobs(self, mailbox: str | None = None, *, with_log: bool = False) -> list[SyncJob]:
        """Return every sync job, or one mailbox's; ``with_log`` adds imapsync's last output
        (``get/syncjobs/<mailbox>`` and ``get/syncjobs/all`` carry ``log``; ``/no_log`` drops it)."""
        target = "all" if mailbox is None else segment(v.normalize_address(mailbox, field="mailbox"))
        path = f"get/syncjobs/{target}" + ("" if with_log else "/no_log")
        return [SyncJob.from_api(o) for o in self._get_list(path)]

    def edit_sync_job(self, job_id: int, *, active: bool) -> WriteResult:
        """Start (active) or stop a sync job (``edit/syncjob``, read from source)."""
        return self._edit("syncjob", [str(v.check_id(job_id))], {"active": flag(active)})

    def delete_sync_job(self, job_id: int) -> WriteResult:
        """Delete a sync job."""
        return self._delete("syncjob", [str(v.check_id(job_id))])

    # -- Sieve filters -------------------------------------------------------

    def add_sieve_filter(
        self,
        mailbox: str,
        *,
        script: str,
        description: str,
        filter_type: str = "prefilter",
        active: bool = True,
    ) -> SieveFilter:
        """Attach a Sieve script to a mailbox and return it (re-listed).

        Mailcow parses the script: a syntax error raises MailcowInvalidInput
        (``sieve_error`` with the parser message).
        """
        address = v.normalize_address(mailbox, field="mailbox")
        if filter_type not in FILTER_TYPES:
            raise v.MailcowValidationError(
                f"filter_type must be one of {FILTER_TYPES}", field="filter_type"
            )
        if not isinstance(script, str) or not script.strip() or "\x00" in script:
            raise v.MailcowValidationError("script must be a non-empty string", field="script")
        attr = {
            "username": address,
            "filter_type": filter_type,
            "script_desc": v.check_text(description, field="description"),
            "script_data": script,
            "active": flag(active),
        }
        self._add("filter", attr)
        return _newest(
            f for f in self.list_sieve_filters(address) if f.description == attr["script_desc"]
        )

    def list_sieve_filters(self, mailbox: str | None = None) -> list[SieveFilter]:
        """Return all Sieve filters, or those of one mailbox."""
        if mailbox is None:
            return [SieveFilter.from_api(o) for o in self._get_list("get/filters/all")]
        address = v.normalize_address(mailbox, field="mailbox")
        return [SieveFilter.from_api(o) for o in self._get_list(f"get/filters/{segment(address)}")]

    def delete_sieve_filter(self, filter_id: int) -> WriteResult:
        """Delete a Sieve filter."""
        return self._delete("filter", [str(v.check_id(filter_id))])

    # -- status ----------------------------------------------------------------

    def get_version(self) -> Version:
        """Return Mailcow's version. Also a cheap check that URL and key work:
        raises MailcowAuthError/MailcowNoKey/MailcowConnectionError otherwise."""
        obj = self._get_object("get/status/version") or {}
        value = obj.get("version")
        return Version(version=str(value) if value else None)

    def has_write_access(self) -> bool:
        """True if the key may write, found out without changing anything.

        Mailcow answers any write by a read-only key with 403 "API read/write access denied"
        before it looks at the request (json_api.php, read from source); an `edit/domain` with an
        empty `items` list changes nothing with a read-write key (200 "Cannot edit item").
        """
        from .errors import MailcowPermissionError

        try:
            self._t.post_raw("edit/domain", {"items": [], "attr": {}})
        except MailcowPermissionError:
            return False
        return True
