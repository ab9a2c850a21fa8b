"""GET answers of the simulator, field for field as recorded (reference §5).

Units: quotas in bytes; ``x``/``x_int`` flag pairs; numbers that Mailcow
sends as strings (``quota_used_in_domain``, ``relayhost``, rate-limit
values) are strings here too. Call with ``state.lock`` held.
"""

from __future__ import annotations

from typing import Any

from .models import MIB, SimAlias, SimDomain, SimMailbox
from .php import idn_to_utf8
from .state import SimState


def _rl(state: SimState, key: str) -> dict[str, str] | bool:
    limit = state.rate_limits.get(key)
    return {"value": str(limit[0]), "frame": limit[1]} if limit else False


def domain(state: SimState, dom: SimDomain) -> dict[str, Any]:
    count, allocated = state.domain_usage(dom.name)
    aliases = state.alias_count(dom.name)
    max_new = max(0, min(dom.maxquota * MIB, dom.quota * MIB - allocated))
    boxes = state.by_domain.get(dom.name, {}).values()
    admins = [a.username for a in state.domain_admins.values() if dom.name in a.domains]
    return {
        "max_new_mailbox_quota": max_new,
        "def_new_mailbox_quota": min(dom.defquota * MIB, max_new),
        "quota_used_in_domain": str(allocated),
        "bytes_total": sum(m.quota_used for m in boxes),
        "msgs_total": sum(m.messages for m in boxes),
        "mboxes_in_domain": count,
        "mboxes_left": max(0, dom.mailboxes - count),
        "domain_name": dom.name,
        "domain_h_name": idn_to_utf8(dom.name),
        "description": dom.description,
        "max_num_aliases_for_domain": dom.aliases,
        "max_num_mboxes_for_domain": dom.mailboxes,
        "def_quota_for_mbox": dom.defquota * MIB,
        "max_quota_for_mbox": dom.maxquota * MIB,
        "max_quota_for_domain": dom.quota * MIB,
        "relayhost": str(dom.relayhost),
        "backupmx": dom.backupmx,
        "backupmx_int": dom.backupmx,
        "gal": dom.gal,
        "gal_int": dom.gal,
        "rl": _rl(state, dom.name),
        "active": dom.active,
        "active_int": dom.active,
        "relay_all_recipients": dom.relay_all_recipients,
        "relay_all_recipients_int": dom.relay_all_recipients,
        "relay_unknown_only": dom.relay_unknown_only,
        "relay_unknown_only_int": dom.relay_unknown_only,
        "created": dom.created,
        "modified": dom.modified,
        "aliases_in_domain": aliases,
        "aliases_left": max(0, dom.aliases - aliases),
        "domain_admins": ", ".join(admins) or "-",
        # Mailcow appends a `tags` key only when the domain has tags (reference §10).
        **({"tags": list(dom.tags)} if dom.tags else {}),
    }


def mailbox(state: SimState, box: SimMailbox) -> dict[str, Any]:
    own = _rl(state, box.username)
    inherited = _rl(state, box.domain)
    percent: Any = round(box.quota_used / box.quota * 100) if box.quota else "- "
    number = percent if isinstance(percent, int) else 0
    result: dict[str, Any] = {
        "username": box.username,
        "active": box.active,
        "active_int": box.active,
        "domain": box.domain,
        "name": box.name,
        "local_part": box.local_part,
        "quota": box.quota,
        "messages": box.messages,
        "attributes": dict(box.attributes),
        "custom_attributes": [],
        "quota_used": box.quota_used,
        "percent_in_use": percent,
        "created": box.created,
        "modified": box.modified,
        "authsource": box.authsource,
        "percent_class": "success" if number < 65 else ("warning" if number < 85 else "danger"),
        "last_imap_login": 0,
        "last_smtp_login": 0,
        "last_pop3_login": 0,
        "last_sso_login": 0,
        "max_new_quota": state.max_new_quota(box),
        "spam_aliases": 0,
        "pushover_active": 0,
        "rl": own or inherited,
        "rl_scope": "mailbox" if own else "domain",
        "is_relayed": 0,
        "sender_acl": [],
        **({"tags": list(box.tags)} if box.tags else {}),
    }
    return result


def alias(alias: SimAlias) -> dict[str, Any]:
    return {
        "in_primary_domain": "",
        "id": alias.id,
        "domain": alias.domain,
        "public_comment": alias.public_comment,
        "private_comment": alias.private_comment,
        "goto": alias.goto,
        "address": alias.address,
        "is_catch_all": 1 if alias.address.startswith("@") else 0,
        "internal": alias.internal,
        "active": alias.active,
        "active_int": alias.active,
        "sogo_visible": alias.sogo_visible,
        "sogo_visible_int": alias.sogo_visible,
        "sender_allowed": alias.sender_allowed,
        "created": alias.created,
        "modified": alias.modified,
    }


def dkim(state: SimState, name: str) -> dict[str, Any]:
    key = state.dkim.get(name)
    if key is None:
        return {}
    return {
        "pubkey": key.public_b64,
        "length": str(key.bits),
        "dkim_txt": f"v=DKIM1;k=rsa;t=s;s=email;p={key.public_b64}",
        "dkim_selector": key.selector,
        "privkey": "",
    }


def relayhost(state: SimState, rid: int) -> dict[str, Any]:
    host = state.relayhosts[rid]
    return {
        "id": host.id,
        "hostname": host.hostname,
        "username": host.username,
        "password": host.password,  # Mailcow returns it in clear (§5.6)
        "active": host.active,
        "password_short": host.password[:3] + "...",
        "used_by_domains": ", ".join(d.name for d in state.domains.values() if d.relayhost == rid),
        "used_by_mailboxes": ", ".join(
            m.username
            for m in state.mailboxes.values()
            if m.attributes.get("relayhost") == str(rid)
        ),
    }


def domain_admin(state: SimState, username: str) -> dict[str, Any]:
    admin = state.domain_admins[username]
    selected = [d for d in admin.domains if d in state.domains]
    return {
        "username": admin.username,
        "tfa_active": 0,
        "tfa_active_int": 0,
        "active": admin.active,
        "active_int": admin.active,
        "created": admin.created,
        "attributes": {"force_tfa": "0", "force_pw_update": "0"},
        "selected_domains": selected,
        "unselected_domains": [d for d in sorted(state.domains) if d not in selected],
    }


def app_password(state: SimState, pid: int) -> dict[str, Any]:
    item = state.app_passwords[pid]
    flags = {
        f"{p}_access": int(f"{p}_access" in item.protocols)
        for p in ("imap", "smtp", "dav", "eas", "pop3", "sieve")
    }
    return {
        "id": item.id,
        "name": item.name,
        "mailbox": item.mailbox,
        "domain": item.mailbox.split("@")[-1],
        "password": item.password,
        "created": item.created,
        "modified": None,
        **flags,
        "active": item.active,
    }


def syncjob(state: SimState, jid: int) -> dict[str, Any]:
    job = state.syncjobs[jid]
    a = job.attrs
    return {
        "id": job.id,
        "user2": job.user2,
        "host1": a.get("host1", ""),
        "authmech1": "PLAIN",
        "regextrans2": "",
        "authmd51": 0,
        "domain2": "",
        "subfolder2": a.get("subfolder2", ""),
        "user1": a.get("user1", ""),
        "exclude": a.get("exclude", ""),
        "maxage": int(a.get("maxage", 0) or 0),
        "mins_interval": str(a.get("mins_interval", 20)),
        "maxbytespersecond": str(a.get("maxbytespersecond", 0)),
        "port1": int(a.get("port1", 993) or 993),
        "enc1": a.get("enc1", "TLS"),
        "delete2duplicates": int(a.get("delete2duplicates", 1) or 0),
        "delete1": int(a.get("delete1", 0) or 0),
        "delete2": int(a.get("delete2", 0) or 0),
        "automap": int(a.get("automap", 1) or 0),
        "skipcrossduplicates": int(a.get("skipcrossduplicates", 0) or 0),
        "custom_params": a.get("custom_params", ""),
        "timeout1": int(a.get("timeout1", 600) or 600),
        "timeout2": int(a.get("timeout2", 600) or 600),
        "subscribeall": int(a.get("subscribeall", 1) or 0),
        "dry": int(a.get("dry", 0) or 0),
        "is_running": job.is_running,
        "last_run": job.last_run,
        "success": job.success,
        "exit_status": job.exit_status,
        "created": job.created,
        "modified": None,
        "active": job.active,
        "active_int": job.active,
        "log": job.log,
    }


def sieve_filter(state: SimState, fid: int) -> dict[str, Any]:
    item = state.filters[fid]
    return {
        "active": item.active,
        "active_int": item.active,
        "id": item.id,
        "username": item.username,
        "filter_type": item.filter_type,
        "script_data": item.script_data,
        "script_desc": item.script_desc,
    }


def quarantine_item(state: SimState, qid: int) -> dict[str, Any]:
    item = state.quarantine[qid]
    return {
        "id": item.id,
        "qid": item.qid,
        "subject": item.subject,
        "virus_flag": item.virus_flag,
        "score": item.score,
        "rcpt": item.rcpt,
        "sender": item.sender,
        "created": item.created,
        "notified": 0,
        "action": item.action,
    }


def quarantine_details(state: SimState, qid: int) -> dict[str, Any]:
    """``get/quarantine/<id>``: the whole table row (source: ``SELECT * FROM quarantine``)."""
    import datetime

    item = state.quarantine[qid]
    created = datetime.datetime.fromtimestamp(item.created, tz=datetime.UTC)
    return {
        "id": item.id,
        "qid": item.qid,
        "subject": item.subject,
        "score": item.score,
        "ip": "192.0.2.77",
        "action": item.action,
        "symbols": "[]",
        "fuzzy_hashes": "[]",
        "sender": item.sender,
        "rcpt": item.rcpt,
        "msg": item.msg,
        "domain": item.rcpt.rsplit("@", 1)[-1],
        "notified": 0,
        "created": created.strftime("%Y-%m-%d %H:%M:%S"),
        "user": "unknown",
        "qhash": f"{item.id:064x}",
    }
