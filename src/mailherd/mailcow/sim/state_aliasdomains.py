"""Alias domains and per-domain allow/block lists, as Mailcow's source has them (docs/mailcow.md).

``functions.mailbox.inc.php`` (``alias_domain``) and ``functions.policy.inc.php`` (``domain``),
commit 06424670f: the checks run in Mailcow's order with Mailcow's message keys.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .php import idn_to_ascii, intval, is_valid_domain_name, now, split_list

if TYPE_CHECKING:
    from .models import SimDomain

Entry = dict[str, Any]


def _entry(type_: str, log: list[Any], msg: Any) -> Entry:
    return {"type": type_, "log": log, "msg": msg}


@dataclass
class SimAliasDomain:
    alias_domain: str
    target_domain: str
    active: int
    created: str
    modified: str | None = None


@dataclass
class SimPolicy:
    prefid: int
    object: str
    option: str  # whitelist_from | blacklist_from
    value: str


class AliasDomainState:
    """Mixin for SimState."""

    lock: threading.RLock
    domains: dict[str, SimDomain]

    def reset_alias_domains(self) -> None:
        self.alias_domains: dict[str, SimAliasDomain] = {}
        self.policies: dict[int, SimPolicy] = {}
        self._next_prefid = 1

    # -- alias domains ------------------------------------------------------------------

    def add_alias_domain(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        log = ["mailbox", "add", "alias_domain", attr, None]
        entries: list[Entry] = []
        active = intval(attr.get("active"))
        target = idn_to_ascii(str(attr.get("target_domain") or "").strip().lower())
        with self.lock:
            if not is_valid_domain_name(target):
                return [_entry("danger", log, "target_domain_invalid")], False
            for name in split_list(attr.get("alias_domain")):
                name = idn_to_ascii(name.strip().lower())
                if not name:
                    continue
                if not is_valid_domain_name(name):
                    entries.append(_entry("danger", log, ["alias_domain_invalid", name]))
                    continue
                if name == target:
                    entries.append(_entry("danger", log, ["aliasd_targetd_identical", target]))
                    continue
                if target not in self.domains:
                    entries.append(_entry("danger", log, ["targetd_not_found", target]))
                    continue
                if self.domains[target].backupmx:
                    entries.append(_entry("danger", log, ["targetd_relay_domain", target]))
                    continue
                if name in self.domains or name in self.alias_domains:
                    entries.append(_entry("danger", log, ["alias_domain_invalid", name]))
                    continue
                self.alias_domains[name] = SimAliasDomain(name, target, 1 if active else 0, now())
                entries.append(_entry("success", log, ["aliasd_added", name]))
        return entries, bool(entries) and entries[-1]["type"] == "success"

    def edit_alias_domain(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            for name in attr.get("alias_domain") or []:
                log = ["mailbox", "edit", "alias_domain", attr, None]
                row = self.alias_domains.get(idn_to_ascii(str(name).lower()))
                if row is None:
                    entries.append(_entry("danger", log, ["alias_domain_invalid", str(name)]))
                    continue
                if "active" in attr:
                    row.active = 1 if intval(attr["active"]) else 0
                row.modified = now()
                entries.append(_entry("success", log, ["aliasd_modified", row.alias_domain]))
        return entries, bool(entries) and entries[-1]["type"] == "success"

    def delete_alias_domain(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            for name in attr.get("alias_domain") or []:
                log = ["mailbox", "delete", "alias_domain", attr, None]
                name = idn_to_ascii(str(name).lower())
                if not is_valid_domain_name(name):
                    entries.append(_entry("danger", log, "domain_invalid"))
                    continue
                # An admin passes hasDomainAccess even for an unknown name: removing twice succeeds.
                self.alias_domains.pop(name, None)
                entries.append(_entry("success", log, ["alias_domain_removed", name]))
        return entries, True

    def forget_alias_domains_of(self, domain: str) -> None:
        """delete/domain also removes the domain's alias domains and its own list entries."""
        for name in [n for n, row in self.alias_domains.items() if row.target_domain == domain]:
            del self.alias_domains[name]
        for prefid in [p for p, row in self.policies.items() if row.object == domain]:
            del self.policies[prefid]

    def alias_domain_details(self, name: str) -> dict[str, Any]:
        row = self.alias_domains.get(name)
        if row is None:
            return {}
        return {
            "alias_domain": row.alias_domain,
            "target_domain": row.target_domain,
            "active": "✔" if row.active else "✘",
            "active_int": row.active,
            "rl": False,
            "created": row.created,
            "modified": row.modified,
            "parent_is_backupmx": False,
        }

    # -- domain allow/block lists --------------------------------------------------------

    def add_domain_policy(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        log = ["policy", "add", "domain", attr]
        domain = str(attr.get("domain") or "")
        with self.lock:
            if not is_valid_domain_name(domain):
                return [_entry("danger", log, "access_denied")], False
            domain = idn_to_ascii(domain.strip().lower())
            option = {"bl": "blacklist_from", "wl": "whitelist_from"}.get(str(attr.get("object_list")))
            value = str(attr.get("object_from") or "").strip().lower()
            rest = value
            for ch in "@_.-*":
                rest = rest.replace(ch, "")
            if not (rest.isalnum() and rest.isascii()):
                return [_entry("danger", log, "policy_list_from_invalid")], False
            if option is None:
                return [_entry("danger", log, "access_denied")], False
            if any(p.object == domain and p.value == value for p in self.policies.values()):
                return [_entry("danger", log, "policy_list_from_exists")], False
            prefid = self._next_prefid
            self._next_prefid += 1
            self.policies[prefid] = SimPolicy(prefid, domain, option, value)
            return [_entry("success", log, ["domain_modified", domain])], True

    def delete_domain_policy(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            for item in attr.get("prefid") or []:
                log = ["policy", "delete", "domain", attr]
                row = self.policies.get(intval(item)) if str(item).isdigit() else None
                if row is None:
                    entries.append(_entry("danger", log, "access_denied"))
                    continue
                del self.policies[row.prefid]
                entries.append(_entry("success", log, ["item_deleted", str(row.prefid)]))
        return entries, bool(entries) and entries[-1]["type"] == "success"

    def domain_policy_rows(self, domain: str, option: str) -> list[dict[str, Any]]:
        """``object LIKE '%@domain' OR object = domain``: the domain's and its mailboxes' rows."""
        return [
            {"object": p.object, "value": p.value, "prefid": p.prefid}
            for p in sorted(self.policies.values(), key=lambda p: p.prefid)
            if p.option == option and (p.object == domain or p.object.endswith("@" + domain))
        ]
