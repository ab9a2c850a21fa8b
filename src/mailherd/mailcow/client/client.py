"""MailcowClient: a small, typed, synchronous client of Mailcow's REST API.

Design (see docs/mailcow.md):

- One ``httpx.Client`` per MailcowClient (pooled keep-alive connections,
  explicit timeouts and pool limits from ``constants.py``), no cookies kept.
- Every argument is validated and normalised *before* anything is sent
  (``validation.py``); a bad value raises MailcowValidationError.
- Every failure is a typed exception (``errors.py``); every result a
  dataclass (``types.py``) with explicit units: requests take MiB, results
  report bytes, ``None`` quota means unlimited.
- Reads are retried on transient failures; writes are not (Mailcow has no
  idempotency keys: the caller's outbox decides), except when the connection
  was never established.

Usage::

    with MailcowClient("https://mail.example.net", api_key) as mc:
        mc.add_domain("acme.test", quota_mib=10240)
        mc.add_mailbox("alice@acme.test", password=pw, quota_mib=1024)
        alias_id = mc.add_alias("info@acme.test", ["alice@acme.test"])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import httpx

from . import constants as c
from . import validation as v
from .aliasdomains import AliasDomainMixin
from .errors import MailcowNotFound, MailcowProtocolError, MailcowValidationError
from .extras import ExtrasMixin
from .shapes import flag, segment
from .transport import Transport
from .types import (
    Alias,
    Domain,
    DomainTemplate,
    Mailbox,
    MailboxActive,
    Protocol,
    RateLimit,
    WriteResult,
)


def _access_attrs(access: Mapping[Protocol | str, bool] | None) -> dict[str, int]:
    """Turn ``{Protocol.IMAP: False}`` into ``{"imap_access": 0}``."""
    attrs: dict[str, int] = {}
    for key, allowed in (access or {}).items():
        try:
            protocol = Protocol(key)
        except ValueError:
            raise MailcowValidationError(f"unknown protocol {key!r}", field="access") from None
        if not isinstance(allowed, bool):
            raise MailcowValidationError(f"access[{key!r}] must be a bool", field="access")
        attrs[f"{protocol.value}_access"] = flag(allowed)
    return attrs


AUTHSOURCES = ("mailcow", "generic-oidc", "keycloak", "ldap")


def _check_authsource(value: str) -> str:
    # Mailcow silently stores "mailcow" for anything but "mailcow" and the configured type.
    if value not in AUTHSOURCES:
        raise MailcowValidationError(f"authsource must be one of {AUTHSOURCES}", field="authsource")
    return value


def _nothing_to_change(attr: dict[str, Any]) -> None:
    if not attr:
        raise MailcowValidationError("no attribute to change was given", field="attr")


class MailcowClient(AliasDomainMixin, ExtrasMixin):
    """Client of one Mailcow server. Thread-safe; share one per server.

    ``base_url`` is the server root (``https://mail.example.net``), without
    ``/api/v1``. The key must only contain ``[A-Za-z0-9-]`` (what Mailcow
    keeps). Keyword arguments override the defaults of ``constants.py``;
    ``transport`` and ``sleep`` exist for tests.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = c.CONNECT_TIMEOUT,
        read_timeout: float = c.READ_TIMEOUT,
        write_timeout: float = c.WRITE_TIMEOUT,
        pool_timeout: float = c.POOL_TIMEOUT,
        max_connections: int = c.MAX_CONNECTIONS,
        max_keepalive_connections: int = c.MAX_KEEPALIVE_CONNECTIONS,
        max_retries: int = c.MAX_RETRIES,
        verify: bool | str = True,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = c.USER_AGENT,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise MailcowValidationError(
                "base_url must start with http:// or https://", field="base_url"
            )
        # Accept the API URL too ("https://host/api/v1"): the prefix is ours.
        self.base_url = base_url.rstrip("/").removesuffix(c.API_PREFIX)
        self._t = Transport(
            self.base_url,
            v.check_api_key(api_key),
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=write_timeout, pool=pool_timeout
            ),
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_keepalive_connections,
                keepalive_expiry=c.KEEPALIVE_EXPIRY,
            ),
            max_retries=max_retries,
            verify=verify,
            transport=transport,
            sleep=sleep,
            user_agent=user_agent,
        )

    def __repr__(self) -> str:
        return f"MailcowClient({self.base_url!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self._t.close()

    def __enter__(self) -> MailcowClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- domains -------------------------------------------------------------

    def add_domain(
        self,
        name: str,
        *,
        quota_mib: int,
        max_mailbox_quota_mib: int | None = None,
        default_mailbox_quota_mib: int | None = None,
        max_mailboxes: int | None = None,
        max_aliases: int | None = None,
        description: str | None = None,
        active: bool = True,
        rate_limit: RateLimit | None = None,
        dkim_selector: str = c.DEFAULT_DKIM_SELECTOR,
        dkim_key_size: int = c.DEFAULT_DKIM_KEY_SIZE,
        tags: Iterable[str] = (),
        gal: bool = True,
        relayhost_id: int | None = None,
    ) -> WriteResult:
        """Create a domain; Mailcow also generates its DKIM key.

        ``dkim_key_size=0`` creates no DKIM key (then ``import_dkim`` one).
        Quotas in MiB. Omitted limits take Mailcow's template defaults
        (10 mailboxes, 400 aliases, 3072 MiB default and 10240 MiB max per
        mailbox); pass them explicitly when they matter. Raises
        MailcowAlreadyExists (``domain_exists``), MailcowQuotaError (quota
        rules) or MailcowInvalidInput.
        """
        domain = v.normalize_domain(name)
        attr: dict[str, Any] = {
            "domain": domain,
            "quota": v.check_quota_mib(quota_mib, field="quota_mib", minimum=1),
            "active": flag(active),
            "gal": flag(gal),
        }
        if description is not None:
            attr["description"] = v.check_text(description, field="description")
        if max_mailbox_quota_mib is not None:
            attr["maxquota"] = v.check_quota_mib(
                max_mailbox_quota_mib, field="max_mailbox_quota_mib", minimum=1
            )
        if default_mailbox_quota_mib is not None:
            attr["defquota"] = v.check_quota_mib(
                default_mailbox_quota_mib, field="default_mailbox_quota_mib", minimum=1
            )
        if max_mailboxes is not None:
            attr["mailboxes"] = v.check_int(max_mailboxes, field="max_mailboxes")
        if max_aliases is not None:
            attr["aliases"] = v.check_int(max_aliases, field="max_aliases")
        if rate_limit is not None:
            value, frame = v.check_rate_limit(rate_limit.value, rate_limit.frame)
            attr["rl_value"], attr["rl_frame"] = str(value), frame
        if relayhost_id is not None:
            attr["relayhost"] = v.check_int(relayhost_id, field="relayhost_id")
        if dkim_key_size == 0:
            # No key generated (Mailcow skips it for an empty key_size): the caller imports its own.
            attr["dkim_selector"], attr["key_size"] = v.check_dkim(dkim_selector, c.DEFAULT_DKIM_KEY_SIZE)[0], 0
        else:
            attr["dkim_selector"], attr["key_size"] = v.check_dkim(dkim_selector, dkim_key_size)
        tag_list = [v.check_text(t, field="tags", max_length=64) for t in tags]
        if tag_list:
            attr["tags"] = tag_list
        return self._add("domain", attr)

    def get_domain(self, name: str) -> Domain | None:
        """Return the domain, or None if Mailcow does not know it."""
        path = f"get/domain/{segment(v.normalize_domain(name))}"
        obj = self._get_object(path)
        return Domain.from_api(obj) if obj else None

    def list_domains(self, *, tags: Iterable[str] = ()) -> list[Domain]:
        """Return every domain (alphabetical), optionally filtered by tags."""
        path = "get/domain/all"
        tag_list = [v.check_text(t, field="tags", max_length=64) for t in tags]
        if tag_list:
            path += "?tags=" + segment(",".join(tag_list))
        return [Domain.from_api(o) for o in self._get_list(path)]

    def get_domain_template(self, name: str = "Default") -> DomainTemplate | None:
        """Return a domain template: add/domain takes omitted limits from "Default"."""
        for obj in self._get_list("get/domain/template/all"):
            if obj.get("template") == name:
                return DomainTemplate.from_api(obj)
        return None

    def edit_domain(
        self,
        name: str,
        *,
        active: bool | None = None,
        description: str | None = None,
        quota_mib: int | None = None,
        max_mailbox_quota_mib: int | None = None,
        default_mailbox_quota_mib: int | None = None,
        max_mailboxes: int | None = None,
        max_aliases: int | None = None,
        gal: bool | None = None,
        relayhost_id: int | None = None,
    ) -> WriteResult:
        """Change a domain; omitted attributes keep their value.

        Quotas in MiB and >= 1 (Mailcow reads 0 as "keep" for these).
        Raises MailcowNotFound for an unknown domain (Mailcow says
        ``domain_invalid``), MailcowQuotaError when a limit would fall below
        current use (``mailboxes_in_use``, ``max_quota_in_use``...).
        """
        domain = v.normalize_domain(name)
        attr: dict[str, Any] = {}
        if active is not None:
            attr["active"] = flag(active)
        if description is not None:
            attr["description"] = v.check_text(description, field="description")
        if quota_mib is not None:
            attr["quota"] = v.check_quota_mib(quota_mib, field="quota_mib", minimum=1)
        if max_mailbox_quota_mib is not None:
            attr["maxquota"] = v.check_quota_mib(
                max_mailbox_quota_mib, field="max_mailbox_quota_mib", minimum=1
            )
        if default_mailbox_quota_mib is not None:
            attr["defquota"] = v.check_quota_mib(
                default_mailbox_quota_mib, field="default_mailbox_quota_mib", minimum=1
            )
        if max_mailboxes is not None:
            attr["mailboxes"] = v.check_int(max_mailboxes, field="max_mailboxes")
        if max_aliases is not None:
            attr["aliases"] = v.check_int(max_aliases, field="max_aliases", minimum=1)
        if gal is not None:
            attr["gal"] = flag(gal)
        if relayhost_id is not None:
            attr["relayhost"] = v.check_int(relayhost_id, field="relayhost_id")
        _nothing_to_change(attr)
        return self._edit("domain", [domain], attr, overrides={"domain_invalid": MailcowNotFound})

    def delete_domain(self, name: str) -> WriteResult:
        """Delete an empty domain and its aliases. Idempotent (Mailcow answers
        ``domain_removed`` for an unknown domain too).

        The DKIM key is *not* deleted (call ``delete_dkim``). Raises
        MailcowDomainNotEmpty while mailboxes remain.
        """
        return self._delete("domain", [v.normalize_domain(name)])

    # -- mailboxes -----------------------------------------------------------

    def add_mailbox(
        self,
        address: str,
        *,
        password: str,
        quota_mib: int,
        name: str | None = None,
        active: MailboxActive = MailboxActive.ACTIVE,
        access: Mapping[Protocol | str, bool] | None = None,
        force_pw_update: bool = False,
        tags: Iterable[str] = (),
        authsource: str | None = None,
        rate_limit: RateLimit | None = None,
    ) -> WriteResult:
        """Create a mailbox with a quota in MiB (0 = unlimited), optionally its own sending limit.

        ``quota`` is always sent: Mailcow would otherwise make the mailbox
        unlimited, ignoring the domain's default (reference §5.2). Raises
        MailcowNotFound (unknown domain: Mailcow says ``access_denied``),
        MailcowAlreadyExists (``object_exists``, ``is_alias``),
        MailcowQuotaError (``mailbox_quota_exceeded``,
        ``mailbox_quota_left_exceeded``, ``max_mailbox_exceeded``) or
        MailcowInvalidInput (``password_complexity``...).
        """
        local, domain = v.split_address(address)
        secret = v.check_password(password)
        attr: dict[str, Any] = {
            "local_part": local,
            "domain": domain,
            "quota": v.check_quota_mib(quota_mib),
            "password": secret,
            "password2": secret,
            "active": int(MailboxActive(active)),
            "force_pw_update": flag(force_pw_update),
            **_access_attrs(access),
        }
        if name is not None:
            attr["name"] = v.check_text(name, field="name")
        if authsource is not None:
            attr["authsource"] = _check_authsource(authsource)
        tag_list = [v.check_text(t, field="tags", max_length=64) for t in tags]
        if tag_list:
            attr["tags"] = tag_list
        if rate_limit is not None:
            # add/mailbox saves rl_value/rl_frame through ratelimit() (the rl_saved entry, §4)
            value, frame = v.check_rate_limit(rate_limit.value, rate_limit.frame)
            attr["rl_value"], attr["rl_frame"] = str(value), frame
        return self._add("mailbox", attr)

    def get_mailbox(self, address: str) -> Mailbox | None:
        """Return the mailbox, or None if Mailcow does not know it."""
        path = f"get/mailbox/{segment(v.normalize_address(address))}"
        obj = self._get_object(path)
        return Mailbox.from_api(obj) if obj else None

    def list_mailboxes(self, domain: str | None = None) -> list[Mailbox]:
        """Return all mailboxes, or those of one domain."""
        path = "get/mailbox/all"
        if domain is not None:
            path += "/" + segment(v.normalize_domain(domain))
        return [Mailbox.from_api(o) for o in self._get_list(path)]

    def edit_mailbox(
        self,
        address: str,
        *,
        active: MailboxActive | None = None,
        quota_mib: int | None = None,
        password: str | None = None,
        name: str | None = None,
        access: Mapping[Protocol | str, bool] | None = None,
        force_pw_update: bool | None = None,
        authsource: str | None = None,
    ) -> WriteResult:
        """Change a mailbox; omitted attributes keep their value.

        ``active``: MailboxActive (2 = refuse login, keep receiving).
        ``quota_mib``: MiB, 0 = unlimited. Raises MailcowNotFound for an
        unknown mailbox, MailcowQuotaError (``mailbox_quota_left_exceeded``
        with the maximum MiB it may take) or MailcowInvalidInput.
        """
        target = v.normalize_address(address)
        attr: dict[str, Any] = dict(_access_attrs(access))
        if active is not None:
            attr["active"] = int(MailboxActive(active))
        if quota_mib is not None:
            attr["quota"] = v.check_quota_mib(quota_mib)
        if password is not None:
            attr["password"] = attr["password2"] = v.check_password(password)
        if name is not None:
            attr["name"] = v.check_text(name, field="name")
        if force_pw_update is not None:
            attr["force_pw_update"] = flag(force_pw_update)
        if authsource is not None:
            attr["authsource"] = _check_authsource(authsource)
        _nothing_to_change(attr)
        return self._edit("mailbox", [target], attr)

    def delete_mailbox(self, address: str, *, missing_ok: bool = False) -> WriteResult | None:
        """Delete a mailbox (and its mail). With ``missing_ok``, an unknown
        mailbox returns None instead of raising MailcowNotFound."""
        try:
            return self._delete("mailbox", [v.normalize_address(address)])
        except MailcowNotFound:
            if missing_ok:
                return None
            raise

    # -- aliases -------------------------------------------------------------

    def add_alias(
        self,
        address: str,
        goto: Sequence[str] | str,
        *,
        active: bool = True,
        sogo_visible: bool = True,
        internal: bool = False,
        private_comment: str | None = None,
        public_comment: str | None = None,
    ) -> int:
        """Create an alias and return its id (``msg[2]`` of the answer).

        ``address`` is ``local@domain`` or ``@domain`` (catch-all); ``goto``
        a list of target addresses (external allowed). ``active`` is always
        sent: Mailcow's default is 0. Raises MailcowAlreadyExists
        (``is_alias_or_mailbox``), MailcowNotFound (``domain_not_found``),
        MailcowQuotaError (``max_alias_exceeded``).
        """
        attr: dict[str, Any] = {
            "address": v.normalize_alias_address(address),
            "goto": ",".join(v.normalize_goto(goto)),
            "active": flag(active),
            "sogo_visible": flag(sogo_visible),
            "internal": flag(internal),
        }
        if private_comment is not None:
            attr["private_comment"] = v.check_text(
                private_comment, field="private_comment", max_length=160
            )
        if public_comment is not None:
            attr["public_comment"] = v.check_text(
                public_comment, field="public_comment", max_length=160
            )
        result = self._add("alias", attr)
        entry = result.find("alias_added")
        if entry is None or len(entry.args) < 2:
            raise MailcowProtocolError(
                "Mailcow did not return the new alias id",
                method="POST",
                path="add/alias",
                status=200,
            )
        return int(entry.args[1])

    def _alias_item(self, alias: int | str) -> str:
        if isinstance(alias, int) and not isinstance(alias, bool):
            return str(v.check_id(alias, field="alias"))
        return v.normalize_alias_address(alias, field="alias")

    def get_alias(self, alias: int | str) -> Alias | None:
        """Return an alias by id or address, or None if unknown."""
        path = f"get/alias/{segment(self._alias_item(alias))}"
        obj = self._get_object(path)
        return Alias.from_api(obj) if obj else None

    def list_aliases(self, domain: str | None = None) -> list[Alias]:
        """Return all aliases (mailboxes' hidden self-aliases excluded)."""
        path = "get/alias/all"
        if domain is not None:
            path += "/" + segment(v.normalize_domain(domain))
        return [Alias.from_api(o) for o in self._get_list(path)]

    def edit_alias(
        self,
        alias: int | str,
        *,
        goto: Sequence[str] | str | None = None,
        active: bool | None = None,
        sogo_visible: bool | None = None,
        private_comment: str | None = None,
        public_comment: str | None = None,
    ) -> WriteResult:
        """Change an alias by id or address. ``goto`` replaces all targets.

        Raises MailcowNotFound (``alias_invalid``) for an unknown alias.
        """
        attr: dict[str, Any] = {}
        if goto is not None:
            attr["goto"] = ",".join(v.normalize_goto(goto))
        if active is not None:
            attr["active"] = flag(active)
        if sogo_visible is not None:
            attr["sogo_visible"] = flag(sogo_visible)
        if private_comment is not None:
            attr["private_comment"] = v.check_text(
                private_comment, field="private_comment", max_length=160
            )
        if public_comment is not None:
            attr["public_comment"] = v.check_text(
                public_comment, field="public_comment", max_length=160
            )
        _nothing_to_change(attr)
        return self._edit("alias", [self._alias_item(alias)], attr)

    def delete_alias(self, alias: int | str, *, missing_ok: bool = False) -> WriteResult | None:
        """Delete an alias by id (or address, looked up first).

        With ``missing_ok``, an unknown alias returns None.
        """
        item = self._alias_item(alias)
        if not item.isdigit():
            found = self.get_alias(item)
            if found is None:
                if missing_ok:
                    return None
                raise MailcowNotFound(
                    f"no alias {item}",
                    method="GET",
                    path=f"get/alias/{item}",
                    msg_key="alias_invalid",
                )
            item = str(found.id)
        try:
            return self._delete("alias", [item])
        except MailcowNotFound:
            if missing_ok:
                return None
            raise
