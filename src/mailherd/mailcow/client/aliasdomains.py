"""Alias domains and per-domain allow/block lists (read from Mailcow's source, see docs/mailcow.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import validation as v
from .errors import (
    MailcowAlreadyExists,
    MailcowInvalidInput,
    MailcowNotFound,
    MailcowValidationError,
)
from .extras import ClientBase
from .shapes import flag
from .types import WriteResult, _flag

POLICY_LISTS = {"allow": "wl", "block": "bl"}


@dataclass(frozen=True)
class AliasDomain:
    """``get/alias-domain/<name>``: every address of ``target`` also receives at ``name``."""

    name: str
    target: str
    active: bool

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> AliasDomain:
        return cls(
            name=str(obj.get("alias_domain") or ""),
            target=str(obj.get("target_domain") or ""),
            active=_flag(obj.get("active_int", obj.get("active"))),
        )


@dataclass(frozen=True)
class DomainPolicyEntry:
    """One row of a domain's allow (``wl``) or block (``bl``) list; ``prefid`` deletes it."""

    id: int
    value: str
    list: str  # "allow" or "block"


def _check_sender(value: Any) -> str:
    """What Mailcow takes (``policy_list_from_invalid`` otherwise): letters, digits, ``@_.-*``."""
    text = str(value or "").strip().lower()
    rest = text
    for ch in "@_.-*":
        rest = rest.replace(ch, "")
    if not text or not rest.isalnum() or not rest.isascii():
        raise MailcowValidationError(
            "a sender is an address, a domain or a pattern with *", field="object_from"
        )
    return text


class AliasDomainMixin(ClientBase):
    # -- alias domains ---------------------------------------------------------

    def add_alias_domain(self, name: str, target: str, *, active: bool = True) -> WriteResult:
        """Make ``name`` an alias of ``target`` (``aliasd_added``).

        Raises MailcowNotFound (``targetd_not_found``), MailcowAlreadyExists
        (``alias_domain_invalid`` when the name exists as a domain or alias domain is mapped here
        too) or MailcowInvalidInput (``aliasd_targetd_identical``, ``target_domain_invalid``).
        """
        alias, goal = v.normalize_domain(name), v.normalize_domain(target, field="target_domain")
        if alias == goal:
            raise MailcowValidationError("an alias domain cannot be its own target", field="target_domain")
        return self._add(
            "alias-domain",
            {"alias_domain": alias, "target_domain": goal, "active": flag(active)},
            overrides={
                "alias_domain_invalid": MailcowAlreadyExists,
                "aliasd_targetd_identical": MailcowInvalidInput,
            },
        )

    def get_alias_domain(self, name: str) -> AliasDomain | None:
        obj = self._get_object(f"get/alias-domain/{v.normalize_domain(name)}")
        return AliasDomain.from_api(obj) if obj else None

    def list_alias_domains(self) -> list[AliasDomain]:
        return [AliasDomain.from_api(o) for o in self._get_list("get/alias-domain/all")]

    def edit_alias_domain(self, name: str, *, active: bool) -> WriteResult:
        return self._edit(
            "alias-domain",
            [v.normalize_domain(name)],
            {"active": flag(active)},
            overrides={"alias_domain_invalid": MailcowNotFound},
        )

    def delete_alias_domain(self, name: str, *, missing_ok: bool = False) -> WriteResult | None:
        """Remove an alias domain (and its aliases; its DKIM key stays: call delete_dkim)."""
        try:
            return self._delete(
                "alias-domain",
                [v.normalize_domain(name)],
                overrides={"alias_domain_invalid": MailcowNotFound},
            )
        except MailcowNotFound:
            if missing_ok:
                return None
            raise

    # -- per-domain allow and block lists ----------------------------------------------

    def add_domain_policy(self, domain: str, list_name: str, sender: str) -> WriteResult:
        """Add ``sender`` (an address, a domain, or a ``*`` pattern) to the domain's allow or block list.

        Raises MailcowAlreadyExists (``policy_list_from_exists``: on either list already).
        """
        if list_name not in POLICY_LISTS:
            raise MailcowValidationError('the list is "allow" or "block"', field="object_list")
        return self._add(
            "domain-policy",
            {
                "domain": v.normalize_domain(domain),
                "object_list": POLICY_LISTS[list_name],
                "object_from": _check_sender(sender),
            },
            overrides={"policy_list_from_exists": MailcowAlreadyExists},
        )

    def list_domain_policy(self, domain: str) -> list[DomainPolicyEntry]:
        """The domain's own entries on both lists (Mailcow's answer also holds its mailboxes')."""
        name = v.normalize_domain(domain)
        entries = []
        for list_name, short in POLICY_LISTS.items():
            for obj in self._get_list(f"get/policy_{short}_domain/{name}"):
                if str(obj.get("object") or "") != name:
                    continue  # a mailbox's own entry (object LIKE '%@domain')
                entries.append(
                    DomainPolicyEntry(
                        id=int(obj.get("prefid") or 0), value=str(obj.get("value") or ""), list=list_name
                    )
                )
        return sorted(entries, key=lambda e: e.id)

    def delete_domain_policy(self, entry_id: int) -> WriteResult:
        return self._delete("domain-policy", [str(v.check_id(entry_id))])

