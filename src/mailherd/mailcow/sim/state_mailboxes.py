"""Mailbox and alias operations of the simulator (mixed into SimState).

Checks run in the order of ``functions.mailbox.inc.php`` (see state.py).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .models import (
    ACCESS_FLAGS,
    MIB,
    Entry,
    SimAlias,
    SimDomain,
    SimMailbox,
    entry,
    hash_password,
    masked,
)
from .php import (
    empty,
    idn_to_ascii,
    intval,
    is_valid_domain_name,
    is_valid_email,
    now,
    split_list,
    strstr_parts,
)


class MailboxAliasState:
    """Mixin: add/edit/delete of mailboxes and aliases."""

    lock: threading.RLock
    domains: dict[str, SimDomain]
    mailboxes: dict[str, SimMailbox]
    by_domain: dict[str, dict[str, SimMailbox]]
    aliases: dict[int, SimAlias]
    alias_by_address: dict[str, int]

    if TYPE_CHECKING:  # provided by SimState and ExtrasState

        def domain_usage(self, domain: str) -> tuple[int, int]: ...
        def usage_changed(self, domain: str, mailboxes: int = 0, quota: int = 0) -> None: ...
        def alias_count(self, domain: str) -> int: ...
        def max_new_quota(self, mailbox: SimMailbox) -> int: ...
        def find_alias(self, item: Any) -> SimAlias | None: ...
        def _insert_alias(self, **fields: Any) -> SimAlias: ...
        def _remove_alias(self, alias: SimAlias) -> None: ...
        def password_check(self, password: Any, password2: Any) -> list[Entry]: ...
        def edit_ratelimit(self, kind: str, attr: dict[str, Any]) -> tuple[list[Entry], bool]: ...
        def forget_mailbox_links(self, username: str) -> None: ...
        def authsource_for(self, wanted: Any) -> str: ...

    # -- mailboxes -------------------------------------------------------------

    def add_mailbox(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        log = ["mailbox", "add", "mailbox", masked(attr), None]

        def fail(msg: Any) -> tuple[list[Entry], bool]:
            return [entry("danger", log, msg)], False

        with self.lock:
            local = str(attr.get("local_part") or "").strip().lower()
            domain = idn_to_ascii(attr.get("domain"))
            username = f"{local}@{domain}"
            if not is_valid_email(username) or empty(attr.get("local_part")):
                return fail("mailbox_invalid")
            # The Default mailbox template has quota 0: omitted = unlimited.
            quota_m = intval(attr["quota"]) if "quota" in attr else 0
            if "protocol_access" in attr:
                wanted = (
                    attr["protocol_access"]
                    if isinstance(attr["protocol_access"], list)
                    else [attr["protocol_access"]]
                )
                for proto in ("imap", "pop3", "smtp", "sieve"):
                    attr[f"{proto}_access"] = 1 if proto in wanted else 0
            if not is_valid_domain_name(domain):
                return fail("domain_invalid")
            dom = self.domains.get(domain)
            if dom is None:
                return fail("access_denied")
            if username in self.mailboxes:
                return fail(["object_exists", username])
            if username in self.alias_by_address:
                return fail(["is_alias", username])
            # Only "mailcow" or the configured provider's type; anything else silently "mailcow".
            authsource = self.authsource_for(attr.get("authsource", "mailcow"))
            if authsource == "mailcow":
                problems = self.password_check(attr.get("password"), attr.get("password2"))
                if problems:
                    return problems, False
            count, allocated = self.domain_usage(domain)
            if count >= dom.mailboxes:
                return fail(["max_mailbox_exceeded", count, dom.mailboxes])
            if quota_m > dom.maxquota:
                return fail(["mailbox_quota_exceeded", dom.maxquota])
            if round(allocated / MIB) + quota_m > dom.quota:
                return fail(["mailbox_quota_left_exceeded", dom.quota - round(allocated / MIB)])

            def flag(key: str, default: int) -> str:
                return str(intval(attr[key]) if key in attr else default)

            attributes = {
                "force_pw_update": flag("force_pw_update", 0),
                "tls_enforce_in": flag("tls_enforce_in", 0),
                "tls_enforce_out": flag("tls_enforce_out", 0),
                **{f"{p}_access": flag(f"{p}_access", 1) for p in ACCESS_FLAGS},
                "relayhost": flag("relayhost", 0),
                "passwd_update": now(),
                "mailbox_format": "maildir:",
                "quarantine_notification": str(attr.get("quarantine_notification", "hourly")),
                "quarantine_category": str(attr.get("quarantine_category", "reject")),
                "attribute_hash": "",
            }
            active = intval(attr["active"]) if "active" in attr else 1
            name = str(attr.get("name") or "").lstrip("<").rstrip(">") or local
            mailbox = SimMailbox(
                username=username,
                local_part=local,
                domain=domain,
                name=name,
                quota=quota_m * MIB,
                # A non-mailcow mailbox has its password discarded (stored empty).
                password=hash_password(str(attr.get("password")))
                if authsource == "mailcow"
                else "",
                active=active,
                attributes=attributes,
                authsource=authsource,
                tags=[str(t) for t in attr.get("tags") or [] if t]
                if isinstance(attr.get("tags"), list)
                else [],
            )
            self.mailboxes[username] = mailbox
            self.by_domain[domain][username] = mailbox
            self.usage_changed(domain, 1, mailbox.quota)
            self._insert_alias(
                address=username, goto=username, domain=domain, active=active, is_self=True
            )
            rl_value = attr.get("rl_value", "")
            entries = self.edit_ratelimit(
                "mailbox",
                {"object": [username], "rl_frame": attr.get("rl_frame", "s"), "rl_value": rl_value},
            )[0]
            entries.append(entry("success", log, ["mailbox_added", username]))
            return entries, True

    def edit_mailbox(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        log = ["mailbox", "edit", "mailbox", masked(attr), None]
        entries: list[Entry] = []
        with self.lock:
            for item in attr.get("username") or []:
                mailbox = self.mailboxes.get(str(item))
                if mailbox is None:
                    entries.append(entry("danger", log, "access_denied"))
                    continue
                if "quota" in attr:
                    quota_m = intval(attr["quota"])
                    limit_m = self.max_new_quota(mailbox) // MIB
                    if quota_m > limit_m:
                        entries.append(
                            entry("danger", log, ["mailbox_quota_left_exceeded", limit_m])
                        )
                        continue
                if "authsource" in attr:
                    # Switching keeps the old hash; switching back revives it (observed).
                    mailbox.authsource = self.authsource_for(attr["authsource"])
                    if mailbox.authsource != "mailcow":
                        mailbox.attributes["force_pw_update"] = "0"
                if not empty(attr.get("password")) and mailbox.authsource != "mailcow":
                    pass  # answered mailbox_modified, changed nothing (observed)
                elif not empty(attr.get("password")):
                    problems = self.password_check(attr.get("password"), attr.get("password2"))
                    if problems:
                        entries += problems
                        continue
                    mailbox.password = hash_password(str(attr["password"]))
                    mailbox.attributes["passwd_update"] = now()
                if "quota" in attr:
                    quota = intval(attr["quota"]) * MIB
                    self.usage_changed(mailbox.domain, 0, quota - mailbox.quota)
                    mailbox.quota = quota
                if "active" in attr and intval(attr["active"]) in (0, 1, 2):
                    mailbox.active = intval(attr["active"])
                    self.aliases[self.alias_by_address[mailbox.username]].active = mailbox.active
                if "name" in attr:
                    mailbox.name = str(attr["name"]).lstrip("<").rstrip(">")
                for key in [f"{p}_access" for p in ACCESS_FLAGS] + [
                    "force_pw_update",
                    "tls_enforce_in",
                    "tls_enforce_out",
                    "relayhost",
                ]:
                    if key in attr:
                        mailbox.attributes[key] = str(intval(attr[key]))
                for tag in attr.get("tags") or []:
                    if tag and str(tag) not in mailbox.tags:
                        mailbox.tags.append(str(tag))
                mailbox.modified = now()
                entries.append(entry("success", log, ["mailbox_modified", mailbox.username]))
        return entries, bool(entries) and entries[-1]["type"] == "success"

    def delete_mailbox(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            for item in attr.get("username") or []:
                log = ["mailbox", "delete", "mailbox", {"username": item}, None]
                mailbox = self.mailboxes.pop(str(item), None)
                if mailbox is None:
                    entries.append(entry("danger", log, "access_denied"))
                    continue
                self.by_domain[mailbox.domain].pop(mailbox.username, None)
                self.usage_changed(mailbox.domain, -1, -mailbox.quota)
                for alias in list(self.aliases.values()):
                    targets = alias.goto.split(",")
                    if alias.is_self and alias.address == mailbox.username:
                        self._remove_alias(alias)
                    elif mailbox.username in targets:
                        # Mailcow drops the mailbox from alias targets, and
                        # the alias itself when no target is left.
                        rest = [t for t in targets if t != mailbox.username]
                        if rest:
                            alias.goto = ",".join(rest)
                        else:
                            self._remove_alias(alias)
                self.rate_limits.pop(mailbox.username, None)
                self.forget_mailbox_links(mailbox.username)
                entries.append(
                    entry("warning", log, "Could not move maildir to garbage collector: ")
                )
                entries.append(entry("success", log, ["mailbox_removed", mailbox.username]))
        return entries, True

    # -- aliases ----------------------------------------------------------------

    def _valid_gotos(self, raw: Any, log: list[Any], entries: list[Entry]) -> list[str]:
        """Mailcow's goto handling: invalid targets give danger and are dropped."""
        gotos: list[str] = []
        for goto in split_list(raw):
            if not goto:
                continue
            local, dom = strstr_parts(goto)
            goto = f"{local}@{idn_to_ascii(dom)}"
            if not is_valid_email(goto):
                entries.append(entry("danger", log, ["goto_invalid", goto]))
                continue
            if goto not in gotos:
                gotos.append(goto)
        return gotos

    def add_alias(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        log = ["mailbox", "add", "alias", attr, None]
        with self.lock:
            addresses = split_list(attr.get("address"))
            raw_gotos = split_list(attr.get("goto"))
            private, public = (
                str(attr.get("private_comment") or ""),
                str(attr.get("public_comment") or ""),
            )
            specials = {
                "goto_null": "null@localhost",
                "goto_spam": "spam@localhost",
                "goto_ham": "ham@localhost",
            }
            if len(private) > 160 or len(public) > 160:
                return [entry("danger", log, "comment_too_long")], False
            if not addresses or not addresses[0]:
                return [entry("danger", log, "alias_empty")], False
            special = next((v for k, v in specials.items() if intval(attr.get(k)) == 1), None)
            if (not raw_gotos or not raw_gotos[0]) and special is None:
                return [entry("danger", log, "goto_empty")], False
            entries: list[Entry] = []
            if special is not None:
                gotos, goto = [special], special
            else:
                gotos = self._valid_gotos(attr.get("goto"), log, entries)
                if not gotos:
                    return entries, False
                goto = ",".join(gotos)
            for address in addresses:
                if not address or address in gotos:
                    continue
                local, dom = strstr_parts(address)
                domain = idn_to_ascii(dom)
                address = f"{local}@{domain}"
                target = self.domains.get(domain)
                if target is not None and target.aliases - self.alias_count(domain) <= 0:
                    entries.append(entry("danger", log, "max_alias_exceeded"))
                    return entries, False
                if address in self.alias_by_address:
                    entries.append(entry("danger", log, ["is_alias_or_mailbox", address]))
                    continue
                if target is None:
                    entries.append(entry("danger", log, ["domain_not_found", domain]))
                    continue
                if not is_valid_email(address) and local:
                    entries.append(entry("danger", log, ["alias_invalid", address]))
                    continue
                if not is_valid_email(address):
                    address = "@" + domain  # catch-all
                alias = self._insert_alias(
                    address=address,
                    goto=goto,
                    domain=domain,
                    active=intval(attr.get("active")),
                    sogo_visible=intval(attr.get("sogo_visible")),
                    internal=intval(attr.get("internal")),
                    private_comment=private,
                    public_comment=public,
                )
                entries.append(entry("success", log, ["alias_added", address, str(alias.id)]))
            return entries, True

    def edit_alias(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        log = ["mailbox", "edit", "alias", attr, None]
        entries: list[Entry] = []
        with self.lock:
            for item in attr.get("id") or []:
                alias = self.find_alias(item)
                if alias is None:
                    entries.append(entry("danger", log, ["alias_invalid", None]))
                    continue
                if "goto" in attr:
                    gotos = self._valid_gotos(attr["goto"], log, entries)
                    if gotos:  # all invalid: the old goto is kept (§5.3)
                        alias.goto = ",".join(gotos)
                for key in ("active", "sogo_visible", "internal", "sender_allowed"):
                    if key in attr:
                        setattr(alias, key, intval(attr[key]))
                for key in ("private_comment", "public_comment"):
                    if key in attr:
                        setattr(alias, key, str(attr[key])[:160])
                alias.modified = now()
                entries.append(entry("success", log, ["alias_modified", alias.address]))
        return entries, True

    def delete_alias(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        entries: list[Entry] = []
        with self.lock:
            for item in attr.get("id") or []:
                log = ["mailbox", "delete", "alias", {"id": item}, None]
                alias = self.find_alias(item) if str(item).isdigit() else None
                if alias is None:
                    entries.append(entry("danger", log, "access_denied"))
                    continue
                self._remove_alias(alias)
                entries.append(entry("success", log, ["alias_removed", alias.address]))
        return entries, True
