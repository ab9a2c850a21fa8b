"""Mailcow's identity provider settings (`identity_provider()` in functions.inc.php).

One global provider, key/value rows in table `identity_provider`
(reference mailcow-sso.md §1). `edit` checks the type's required fields and
reports the first missing one; `test` for generic-oidc sends one OPTIONS to
`token_url` and only checks for 200; the type cannot change (nor the
provider be deleted) while a mailbox uses a non-`mailcow` authsource.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import threading

    from .models import SimMailbox

Entry = dict[str, Any]
TYPES = ("keycloak", "generic-oidc", "ldap")
COMMON_REQUIRED = ("ignore_ssl_error", "login_provisioning")
REQUIRED = {
    "generic-oidc": (
        "authorize_url", "token_url", "userinfo_url", "client_id", "client_secret", "redirect_url", "client_scopes",
    ),
    "keycloak": (
        "server_url", "realm", "version", "client_id", "client_secret", "redirect_url", "mailpassword_flow",
        "periodic_sync", "import_users", "sync_interval",
    ),
    "ldap": ("host", "port", "basedn", "username_field", "filter", "attribute_field", "binddn", "bindpass"),
}  # fmt: skip
DEFAULT_SCOPES = "openid profile email mailcow_template"


def _entry(type_: str, attr: dict[str, Any], msg: Any) -> Entry:
    masked = {k: ("*" if "pass" in k else v) for k, v in attr.items()}
    return {"type": type_, "log": ["identity_provider", "edit", masked], "msg": msg}


class IdentityProviderState:
    lock: threading.RLock
    mailboxes: dict[str, SimMailbox]

    def reset_identity_provider(self) -> None:
        self.identity_provider: dict[str, Any] = {}
        self.identity_provider_tests: list[
            str
        ] = []  # token URLs probed by edit/identity-provider-test

    @property
    def idp_type(self) -> str | None:
        return self.identity_provider.get("authsource")

    def _authsource_in_use(self) -> bool:
        return any(m.authsource != "mailcow" for m in self.mailboxes.values())

    def edit_identity_provider(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        with self.lock:
            kind = attr.get("authsource")
            if kind not in TYPES:
                return [_entry("danger", attr, ["required_data_missing", "authsource"])], False
            for key in (*REQUIRED[kind], *COMMON_REQUIRED):
                if attr.get(key) in (None, "") and not (
                    key == "client_scopes" and kind == "generic-oidc"
                ):
                    return [_entry("danger", attr, ["required_data_missing", key])], False
            if self.idp_type and self.idp_type != kind and self._authsource_in_use():
                return [_entry("danger", attr, ["authsource_in_use"])], False
            config = dict(attr)
            if kind == "generic-oidc" and not config.get("client_scopes"):
                config["client_scopes"] = DEFAULT_SCOPES
            extra = config.get("redirect_url_extra") or []
            config["redirect_url_extra"] = extra if isinstance(extra, list) else [extra]
            mappers, templates = config.get("mappers") or [], config.get("templates") or []
            config["mappers"] = mappers if isinstance(mappers, list) else [mappers]
            config["templates"] = templates if isinstance(templates, list) else [templates]
            self.identity_provider = config
            return [_entry("success", attr, "object_modified")], True

    def test_identity_provider(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        """generic-oidc: one OPTIONS to token_url; anything but 200 is "Cannot edit item"."""
        config = attr if attr.get("token_url") else self.identity_provider
        url = config.get("token_url")
        if config.get("authsource") != "generic-oidc" or not url:
            return [], False
        self.identity_provider_tests.append(str(url))
        try:
            status = httpx.options(
                str(url),
                timeout=15.0,
                verify=not int(config.get("ignore_ssl_error") or 0),
                trust_env=False,
            ).status_code
        except httpx.HTTPError:
            return [], False
        return [], status == 200

    def delete_identity_provider(self, attr: dict[str, Any]) -> tuple[list[Entry], bool]:
        with self.lock:
            if self._authsource_in_use():
                return [_entry("danger", attr, ["authsource_in_use"])], False
            self.identity_provider = {}
            return [_entry("success", attr, "object_modified")], True

    def authsource_for(self, wanted: Any) -> str:
        """add/edit mailbox: only `mailcow` or the configured type; anything else silently `mailcow`."""
        return str(wanted) if wanted in ("mailcow", self.idp_type) and wanted else "mailcow"
