"""The simulator's domain model: Mailcow's state and the rules it enforces.

Each ``<verb>_<category>`` method takes the decoded request attributes (as
Mailcow's PHP receives them) and returns ``(entries, ok)``: the list of
result entries Mailcow would put in ``$_SESSION['return']`` and the PHP
function's return value (used for the generic fallback answer). The order
of checks follows ``functions.mailbox.inc.php`` so that the first error a
request hits is the one Mailcow reports.

Invariants kept here: a domain's mailbox count and allocated quota stay
within its limits, an address is either a mailbox or an alias (mailboxes
own a hidden self-alias row), a domain has at most one DKIM key (which
outlives the domain, as in Redis), every mailbox belongs to an existing
domain. All access goes through ``lock`` (an RLock): the ASGI app calls
these methods from its event loop and tests call them from other threads.
"""

from __future__ import annotations

import threading
from typing import Any

from .dkim import SHARED_POOL, KeyPool
from .models import (
    DEFAULT_HOSTNAME,
    DEFAULT_VERSION,
    DOMAIN_DEFAULTS,
    MIB,
    PASSWORD_MIN_LENGTH,
    RL_FRAMES,
    Entry,
    SimAlias,
    SimDkim,
    SimDomain,
    SimMailbox,
    entry,
)
from .php import empty, idn_to_ascii, intval, is_valid_domain_name, now, split_list
from .state_aliasdomains import AliasDomainState
from .state_extras import ExtrasState
from .state_mailboxes import MailboxAliasState
from .state_sso import IdentityProviderState

__all__ = ["DEFAULT_HOSTNAME", "DEFAULT_VERSION", "MIB", "SimState", "entry"]


class SimState(MailboxAliasState, ExtrasState, IdentityProviderState, AliasDomainState):
    """Mailcow's data (MariaDB + Redis) for one simulated server."""

    def __init__(
        self,
        *,
        hostname: str = DEFAULT_HOSTNAME,
        version: str | None = DEFAULT_VERSION,
        key_pool: KeyPool = SHARED_POOL,
    ) -> None:
        self.lock = threading.RLock()
        self.hostname = hostname
        self.version = version
        self.key_pool = key_pool
        self.reset()

    def reset(self) -> None:
        """Forget everything (as a fresh Mailcow install)."""
        with self.lock:
            self.domains: dict[str, SimDomain] = {}
            self.mailboxes: dict[str, SimMailbox] = {}
            self.by_domain: dict[str, dict[str, SimMailbox]] = {}
            self._usage: dict[str, tuple[int, int]] = {}
            self.aliases: dict[int, SimAlias] = {}
            self.alias_by_address: dict[str, int] = {}
            self.next_alias_id = 1
            self.rate_limits: dict[str, tuple[int, str]] = {}
            self.dkim: dict[str, SimDkim] = {}
            self.reset_extras()
            self.reset_alias_domains()
            self.reset_identity_provider()

    # -- derived values -------------------------------------------------------

    def domain_usage(self, domain: str) -> tuple[int, int]:
        """Return (mailbox count, allocated quota in bytes) of a domain.

        Kept up to date by usage_changed: summing every mailbox on each add made adding to a
        domain of thousands slower than Mailcow's indexed SUM, and unfair to compare with."""
        usage = self._usage.get(domain)
        if usage is None:
            boxes = self.by_domain.get(domain, {})
            usage = self._usage[domain] = (len(boxes), sum(m.quota for m in boxes.values()))
        return usage

    def usage_changed(self, domain: str, mailboxes: int = 0, quota: int = 0) -> None:
        """A domain gained or lost `mailboxes` and `quota` bytes of allocated quota."""
        usage = self._usage.get(domain)
        if usage is not None:
            self._usage[domain] = (usage[0] + mailboxes, usage[1] + quota)

    def alias_count(self, domain: str) -> int:
        return sum(1 for a in self.aliases.values() if a.domain == domain and not a.is_self)

    def max_new_quota(self, mailbox: SimMailbox) -> int:
        """Bytes this mailbox may grow to: quota left + its own, capped at maxquota."""
        dom = self.domains[mailbox.domain]
        _, allocated = self.domain_usage(mailbox.domain)
        left = dom.quota * MIB - allocated + mailbox.quota
        return max(0, min(dom.maxquota * MIB, left))

    def find_alias(self, item: Any) -> SimAlias | None:
        """Alias by id or by address; hidden self-alias rows are not found."""
        text = str(item)
        alias_id = int(text) if text.isdigit() else self.alias_by_address.get(text)
        alias = self.aliases.get(alias_id) if alias_id is not None else None
        return alias if alias and not alias.is_self else None

    def _insert_alias(self, **fields: Any) -> SimAlias:
        alias = SimAlias(id=self.next_alias_id, **fields)
        self.next_alias_id += 1
        self.aliases[alias.id] = alias
        self.alias_by_address[alias.address] = alias.id
        return alias

    def _remove_alias(self, alias: SimAlias) -> None:
        self.aliases.pop(alias.id, None)
        if self.alias_by_address.get(alias.address) == alias.id:
            del self.alias_by_address[alias.address]

    # -- password policy -----------------------------------------------------

    @staticmethod
    def password_check(password: Any, password2: Any) -> list[Entry]:
        """Mailcow's password_check(): [] when fine, else its danger entry."""
        log = ["password_check", None, None]
        if empty(password) or empty(password2):
            return [entry("danger", log, "password_complexity")]
        if str(password) != str(password2):
            return [entry("danger", log, "password_mismatch")]
        if len(str(password)) < PASSWORD_MIN_LENGTH:
            return [entry("danger", log, "password_complexity")]
        return []

    # -- domains -------------------------------------------------------------

    def add_domain(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        log = ["mailbox", "add", "domain", attr, None]

        def fail(msg: Any) -> tuple[list[Entry], bool]:
            return [entry("danger", log, msg)], False

        def value(key: str) -> int:
            return intval(attr[key]) if key in attr else DOMAIN_DEFAULTS[key]

        with self.lock:
            domain = idn_to_ascii(attr.get("domain"))
            quota, maxquota, defquota = value("quota"), value("maxquota"), value("defquota")
            # Mailcow's order (reference §10): the default quota against the maximum first.
            if defquota > maxquota:
                return fail("mailbox_defquota_exceeds_mailbox_maxquota")
            if maxquota > quota:
                return fail("mailbox_quota_exceeds_domain_quota")
            if defquota == 0:
                return fail("defquota_empty")
            if maxquota == 0:
                return fail("maxquota_empty")
            if not is_valid_domain_name(domain):
                return fail("domain_invalid")
            if domain in self.domains:
                return fail(["domain_exists", domain])
            if domain == self.hostname:
                return fail("domain_cannot_match_hostname")
            relay_all, relay_unknown = value("relay_all_recipients"), value("relay_unknown_only")
            backupmx = 1 if relay_all or relay_unknown else value("backupmx")
            tags = attr.get("tags") or []
            self.domains[domain] = SimDomain(
                name=domain,
                description=str(attr.get("description") or domain),
                aliases=value("aliases"),
                mailboxes=value("mailboxes"),
                defquota=defquota,
                maxquota=maxquota,
                quota=quota,
                active=value("active"),
                backupmx=backupmx,
                relay_all_recipients=1 if relay_unknown else relay_all,
                relay_unknown_only=relay_unknown,
                gal=value("gal"),
                # add/domain's INSERT has no relayhost column: only edit/domain sets it (source).
                relayhost=0,
                tags=[str(t) for t in tags] if isinstance(tags, list) else [],
            )
            self.by_domain[domain] = {}
            self._usage.pop(domain, None)
            entries: list[Entry] = []
            if not empty(attr.get("rl_value")) and not empty(attr.get("rl_frame")):
                entries += self.edit_ratelimit(
                    "domain",
                    {
                        "object": [domain],
                        "rl_value": attr["rl_value"],
                        "rl_frame": attr["rl_frame"],
                    },
                )[0]
            selector = str(attr.get("dkim_selector", DOMAIN_DEFAULTS["dkim_selector"]))
            key_size = value("key_size")
            if key_size and selector:
                if domain in self.dkim:
                    entries.append(entry("success", log, "domain_add_dkim_available"))
                else:
                    entries += self.add_dkim(
                        {"domains": domain, "dkim_selector": selector, "key_size": key_size}
                    )[0]
            if not empty(attr.get("restart_sogo")):
                entries.append(entry("warning", log, "domain_added_sogo_failed"))
                return entries, False
            entries.append(entry("success", log, ["domain_added", domain]))
            return entries, True

    def edit_domain(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        log = ["mailbox", "edit", "domain", attr, None]
        entries: list[Entry] = []
        with self.lock:
            for item in attr.get("domain") or []:
                name = idn_to_ascii(item)
                dom = self.domains.get(name)
                if dom is None:
                    entries.append(entry("danger", log, "domain_invalid"))
                    continue
                # "not empty" semantics: 0 keeps the current value (§5.1).
                aliases = intval(attr["aliases"]) if not empty(attr.get("aliases")) else dom.aliases
                maxquota = (
                    intval(attr["maxquota"]) if not empty(attr.get("maxquota")) else dom.maxquota
                )
                quota = intval(attr["quota"]) if not empty(attr.get("quota")) else dom.quota
                # isset() and != '' in Mailcow: an empty string keeps the current value.
                mailboxes = (
                    intval(attr["mailboxes"])
                    if attr.get("mailboxes") not in (None, "")
                    else dom.mailboxes
                )
                defquota = (
                    intval(attr["defquota"]) if attr.get("defquota") not in (None, "") else dom.defquota
                )
                count, allocated = self.domain_usage(name)
                largest = max((m.quota for m in self.by_domain[name].values()), default=0) // MIB
                # The order of Mailcow's edit/domain checks (read from source).
                if defquota > maxquota:
                    entries.append(
                        entry("danger", log, "mailbox_defquota_exceeds_mailbox_maxquota")
                    )
                    continue
                if defquota == 0:
                    entries.append(entry("danger", log, "defquota_empty"))
                    continue
                if maxquota > quota:
                    entries.append(entry("danger", log, "mailbox_quota_exceeds_domain_quota"))
                    continue
                if largest > maxquota:
                    entries.append(entry("danger", log, ["max_quota_in_use", str(largest)]))
                    continue
                if allocated // MIB > quota:
                    entries.append(
                        entry("danger", log, ["domain_quota_m_in_use", allocated // MIB])
                    )
                    continue
                if mailboxes < count:
                    entries.append(entry("danger", log, ["mailboxes_in_use", count]))
                    continue
                if aliases < self.alias_count(name):
                    entries.append(entry("danger", log, ["aliases_in_use", self.alias_count(name)]))
                    continue
                dom.aliases, dom.maxquota, dom.quota = aliases, maxquota, quota
                dom.mailboxes, dom.defquota = mailboxes, defquota
                for key in (
                    "active",
                    "gal",
                    "backupmx",
                    "relay_all_recipients",
                    "relay_unknown_only",
                    "relayhost",
                ):
                    if key in attr:
                        setattr(dom, key, intval(attr[key]))
                if "description" in attr:
                    dom.description = str(attr["description"])
                for tag in attr.get("tags") or []:
                    if tag and str(tag) not in dom.tags:
                        dom.tags.append(str(tag))
                dom.modified = now()
                entries.append(entry("success", log, ["domain_modified", name]))
        return entries, bool(entries) and entries[-1]["type"] == "success"

    def delete_domain(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            for item in attr.get("domain") or []:
                log = ["mailbox", "delete", "domain", {"domain": item}, None]
                name = idn_to_ascii(item)
                if not is_valid_domain_name(name):
                    entries.append(entry("danger", log, "domain_invalid"))
                    continue
                if self.by_domain.get(name):
                    entries.append(entry("danger", log, ["domain_not_empty", name]))
                    continue
                # Unknown domains are "removed" too: delete is idempotent (§5.1).
                self.domains.pop(name, None)
                self.by_domain.pop(name, None)
                self._usage.pop(name, None)
                for alias in [a for a in self.aliases.values() if a.domain == name]:
                    self._remove_alias(alias)
                self.rate_limits.pop(name, None)
                self.forget_domain_links(name)
                self.forget_alias_domains_of(name)
                # The DKIM key stays (it lives in Redis), as on a real server.
                entries.append(
                    entry("warning", log, "Could not move mail storage to garbage collector: ")
                )
                entries.append(entry("success", log, ["domain_removed", name]))
        return entries, True

    # -- DKIM and rate limits (Redis in real Mailcow) -----------------------------

    def add_dkim(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        log = ["dkim", "add", attr]
        entries: list[Entry] = []
        selector = str(attr.get("dkim_selector") or "")
        bits = intval(attr.get("key_size"))
        with self.lock:
            for domain in split_list(attr.get("domains")):
                if not domain:
                    continue
                domain = idn_to_ascii(domain)
                if domain not in self.domains and domain not in self.alias_domains:
                    entries.append(entry("danger", log, ["access_denied", domain]))
                    continue
                selector_ok = selector and all(ch.isalnum() or ch in "-_." for ch in selector)
                if not selector_ok or domain in self.dkim or bits < 512:
                    entries.append(entry("danger", log, ["dkim_domain_or_sel_invalid", domain]))
                    continue
                pair = self.key_pool.get(bits)
                self.dkim[domain] = SimDkim(
                    selector=selector, public_b64=pair.public_b64, bits=bits
                )
                entries.append(entry("success", log, ["dkim_added", domain]))
        return entries, bool(entries) and entries[-1]["type"] == "success"

    def import_dkim(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        """``add/dkim_import`` (read from source): the public key is derived from the private one;
        the domain need not exist; an existing key is replaced only with ``overwrite_existing``."""
        import base64

        from cryptography.hazmat.primitives import serialization

        log = ["dkim", "import", {k: v for k, v in attr.items() if k != "private_key_file"}]
        pem = str(attr.get("private_key_file") or "").strip().replace("\r\n", "\n").replace("\r", "\n")
        try:
            key = serialization.load_pem_private_key(pem.encode(), password=None)
            public_der = key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        except (ValueError, TypeError) as exc:
            return [entry("danger", log, ["private_key_error", str(exc)[:80]])], False
        selector = str(attr.get("dkim_selector") or "dkim")
        domain = idn_to_ascii(str(attr.get("domain") or ""))
        with self.lock:
            if not domain or "." not in domain:
                return [entry("danger", log, ["dkim_domain_or_sel_invalid", domain])], False
            if domain in self.dkim and not intval(attr.get("overwrite_existing")):
                return [entry("danger", log, ["dkim_domain_or_sel_exists", domain])], False
            if not all(ch.isalnum() or ch in "-_." for ch in selector):
                return [entry("danger", log, ["dkim_domain_or_sel_invalid", domain])], False
            self.dkim[domain] = SimDkim(
                selector=selector,
                public_b64=base64.b64encode(public_der).decode("ascii"),
                bits=key.key_size,
            )
        return [entry("success", log, ["dkim_added", domain])], True

    def delete_dkim(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            for domain in attr.get("domains") or []:
                self.dkim.pop(idn_to_ascii(domain), None)
                entries.append(entry("success", ["dkim", "delete", attr], ["dkim_removed", domain]))
        return entries, True

    def edit_ratelimit(self, kind: str, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        """``kind`` is ``domain`` or ``mailbox``; rl_value empty/0 clears."""
        entries: list[Entry] = []
        with self.lock:
            for obj in attr.get("object") or []:
                log = [
                    "ratelimit",
                    "edit",
                    kind,
                    {"object": obj, **{k: v for k, v in attr.items() if k != "object"}},
                ]
                known = obj in self.domains if kind == "domain" else obj in self.mailboxes
                if not known:
                    entries.append(entry("danger", log, "access_denied"))
                    continue
                frame, value = attr.get("rl_frame"), attr.get("rl_value")
                if frame not in RL_FRAMES:
                    entries.append(entry("danger", log, "rl_timeframe"))
                    continue
                if empty(value) or intval(value) <= 0:
                    self.rate_limits.pop(obj, None)
                else:
                    self.rate_limits[obj] = (intval(value), str(frame))
                entries.append(entry("success", log, ["rl_saved", obj]))
        return entries, True
