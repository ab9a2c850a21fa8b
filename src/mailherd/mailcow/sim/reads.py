"""``get/<category>/...`` of the simulator (reference §4 GET conventions).

Each handler returns ``(data, empty_text)``: the payload, and what Mailcow
prints when the payload is empty (``{}`` for almost everything, ``[]`` for
quarantine, mailq). ``NO_ROUTE`` signals a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import render
from .models import DOMAIN_DEFAULTS, MIB
from .php import idn_to_ascii
from .state import SimState

NO_ROUTE = object()
RAW = object()  # marker: the payload is printed with plain json_encode
Handler = Callable[[SimState, str | None, str | None, dict[str, str]], Any]


def _domains(state: SimState, obj: str | None, extra: str | None, query: dict[str, str]) -> Any:
    if obj == "all":
        tags = [t for t in query.get("tags", "").split(",") if t]
        doms = [d for _, d in sorted(state.domains.items()) if not tags or set(tags) & set(d.tags)]
        return [render.domain(state, d) for d in doms]
    if obj == "template":
        return [
            {
                "id": 1,
                "template": "Default",
                "attributes": {
                    "tags": [],
                    # The same defaults add/domain applies to omitted fields.
                    "max_num_aliases_for_domain": DOMAIN_DEFAULTS["aliases"],
                    "max_num_mboxes_for_domain": DOMAIN_DEFAULTS["mailboxes"],
                    "def_quota_for_mbox": DOMAIN_DEFAULTS["defquota"] * MIB,
                    "max_quota_for_mbox": DOMAIN_DEFAULTS["maxquota"] * MIB,
                    "max_quota_for_domain": DOMAIN_DEFAULTS["quota"] * MIB,
                    "rl_frame": "s",
                    "rl_value": "",
                    "active": "1",
                    "gal": "1",
                    "backupmx": "0",
                    "relay_all_recipients": "0",
                    "relay_unknown_only": "0",
                    "dkim_selector": "dkim",
                    "key_size": 2048,
                },
            }
        ]
    dom = state.domains.get(idn_to_ascii(obj)) if obj else None
    return render.domain(state, dom) if dom else {}


def _mailboxes(state: SimState, obj: str | None, extra: str | None, query: dict[str, str]) -> Any:
    if obj == "all":
        names = [idn_to_ascii(d) for d in extra.split(",")] if extra else sorted(state.domains)
        tags = [t for t in query.get("tags", "").split(",") if t]
        boxes = [
            m
            for name in names
            for _, m in sorted(state.by_domain.get(name, {}).items())
            if not tags or set(tags) & set(m.tags)
        ]
        return [render.mailbox(state, m) for m in boxes]
    box = state.mailboxes.get(obj or "")
    return render.mailbox(state, box) if box else {}


def _aliases(state: SimState, obj: str | None, extra: str | None, query: dict[str, str]) -> Any:
    if obj == "all":
        names = {idn_to_ascii(d) for d in extra.split(",")} if extra else None
        return [
            render.alias(a)
            for a in sorted(state.aliases.values(), key=lambda a: (a.domain, a.id))
            if not a.is_self and (names is None or a.domain in names)
        ]
    alias = state.find_alias(obj) if obj else None
    return render.alias(alias) if alias else {}


def _dkim(state: SimState, obj: str | None, extra: str | None, query: dict[str, str]) -> Any:
    return render.dkim(state, idn_to_ascii(obj)) if obj else {}


def _rate_limits(kind: str) -> Handler:
    def handler(state: SimState, obj: str | None, extra: str | None, query: dict[str, str]) -> Any:
        table = state.domains if kind == "domain" else state.mailboxes
        if obj == "all":
            return [
                {"value": str(value), "frame": frame, kind: key}
                for key, (value, frame) in sorted(state.rate_limits.items())
                if key in table
            ]
        limit = state.rate_limits.get(obj or "") if obj in table else None
        return {"value": str(limit[0]), "frame": limit[1]} if limit else {}

    return handler


def _quarantine(state: SimState, obj: str | None, extra: str | None, query: dict[str, str]) -> Any:
    if obj == "all":
        return [render.quarantine_item(state, q) for q in sorted(state.quarantine)]
    # One item is Mailcow's `SELECT *` row (raw message included); unknown: `[]` (source).
    qid = int(obj) if obj and obj.isdigit() else -1
    return render.quarantine_details(state, qid) if qid in state.quarantine else []


def _spam_score(state: SimState, obj: str | None, extra: str | None, query: dict[str, str]) -> Any:
    score = state.spam_scores.get(obj or "")
    return {"score": score} if score else {}


def _relayhosts(state: SimState, obj: str | None, extra: str | None, query: dict[str, str]) -> Any:
    if obj == "all":
        return [render.relayhost(state, rid) for rid in sorted(state.relayhosts)]
    rid = int(obj) if obj and obj.isdigit() else -1
    return render.relayhost(state, rid) if rid in state.relayhosts else {}


def _domain_admins(
    state: SimState, obj: str | None, extra: str | None, query: dict[str, str]
) -> Any:
    if obj == "all":
        return [render.domain_admin(state, u) for u in sorted(state.domain_admins)]
    return render.domain_admin(state, obj) if obj in state.domain_admins else {}


def _app_passwords(
    state: SimState, obj: str | None, extra: str | None, query: dict[str, str]
) -> Any:
    if obj == "all":
        return [
            render.app_password(state, pid)
            for pid, item in sorted(state.app_passwords.items())
            if extra is None or item.mailbox == extra
        ]
    pid = int(obj) if obj and obj.isdigit() else -1
    return render.app_password(state, pid) if pid in state.app_passwords else {}


def _syncjobs(state: SimState, obj: str | None, extra: str | None, query: dict[str, str]) -> Any:
    jobs = [render.syncjob(state, jid) for jid in sorted(state.syncjobs)]
    if extra == "no_log":
        for job in jobs:
            job.pop("log", None)
    return jobs if obj == "all" else [j for j in jobs if j["user2"] == obj]


def _filters(state: SimState, obj: str | None, extra: str | None, query: dict[str, str]) -> Any:
    return [
        render.sieve_filter(state, fid)
        for fid, item in sorted(state.filters.items())
        if obj == "all" or item.username == obj
    ]


def _status(state: SimState, obj: str | None, extra: str | None, query: dict[str, str]) -> Any:
    if obj == "version":
        return RAW, {"version": state.version}
    if obj == "containers":
        return RAW, None  # no containers, as in the lab (§8)
    if obj == "vmail":
        return RAW, {"type": "info", "disk": "", "used": None, "total": None, "used_percent": None}
    return RAW, ""  # Mailcow prints nothing for other status objects


def _alias_domains(state: SimState, obj: str | None, extra: str | None, query: dict[str, str]) -> Any:
    if obj == "all":
        return [state.alias_domain_details(name) for name in sorted(state.alias_domains)]
    return state.alias_domain_details(idn_to_ascii(str(obj or "").lower()))


def _domain_policy(option: str) -> Handler:
    def handler(state: SimState, obj: str | None, extra: str | None, query: dict[str, str]) -> Any:
        return state.domain_policy_rows(idn_to_ascii(str(obj or "").lower()), option)

    return handler


READS: dict[str, tuple[Handler, str]] = {
    "alias-domain": (_alias_domains, "{}"),
    "policy_wl_domain": (_domain_policy("whitelist_from"), "{}"),
    "policy_bl_domain": (_domain_policy("blacklist_from"), "{}"),
    "domain": (_domains, "{}"),
    "mailbox": (_mailboxes, "{}"),
    "alias": (_aliases, "{}"),
    "dkim": (_dkim, "{}"),
    "rl-domain": (_rate_limits("domain"), "{}"),
    "rl-mbox": (_rate_limits("mailbox"), "{}"),
    "quarantine": (_quarantine, "[]"),
    "spam-score": (_spam_score, "{}"),
    "relayhost": (_relayhosts, "{}"),
    "domain-admin": (_domain_admins, "{}"),
    "app-passwd": (_app_passwords, "{}"),
    "syncjobs": (_syncjobs, "{}"),
    "filters": (_filters, "{}"),
    "status": (_status, "{}"),
    "mailq": (lambda state, obj, extra, query: [], "[]"),
    # The whole config, client_secret in clear (reference mailcow-sso.md §1).
    "identity-provider": (lambda state, obj, extra, query: dict(state.identity_provider), "{}"),
}
