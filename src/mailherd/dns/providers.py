"""Automatic set-up at the customer's DNS provider (see docs/dns.md).

Each offered provider is a small client of that provider's documented HTTP API, over httpx
with timeouts; records are formatted the way that API wants them:

- PowerDNS (Authoritative HTTP API, `doc.powerdns.com/authoritative/http-api/`): RRsets, read
  with `GET /api/v1/servers/{server}/zones/{zone}` and replaced with one
  `PATCH …/zones/{zone}` (`changetype` REPLACE/DELETE). Content is zone-file data: MX
  `10 host.`, SRV `0 1 993 host.`, CNAME `host.`, TXT as quoted 255-octet strings. The API URL
  is the customer's: it goes through `mailherd.core.netguard` (checked when saved, and every
  connection made only to a checked public address).
- Cloudflare (API v4, `developers.cloudflare.com/api/resources/dns/`): `GET /zones?name=`,
  `GET /zones/{id}/dns_records?type=&name=`, `POST …/dns_records`, `DELETE …/dns_records/{id}`,
  bearer token. MX content is the host alone with `priority` apart; SRV goes in `data`
  (`priority`, `weight`, `port`, `target`); TXT content is the value itself.

dns-lexicon is not used: its public client finds the zone through tldextract (which downloads
the public-suffix list) or the system resolver, its PowerDNS provider appends the zone to CNAME
targets outside it, and its HTTP calls have no timeout and no address checks.

The push works in two steps, so that what is applied is exactly what was shown:
1. `plan_changes` lists the provider's records at our names and returns the changes (delete
   conflicting, create missing, keep correct); `fingerprint` digests them;
2. the service recomputes the plan, refuses if the fingerprint differs, then `apply_changes`.

Errors are `ProviderError` with a message for customers: what failed in plain words and the
provider's HTTP status, never addresses, ports or the provider's raw answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass
from urllib.parse import quote

import dns.exception
import dns.resolver
import httpx
from django.conf import settings

from mailherd.core import netguard
from mailherd.dns import syntax
from mailherd.dns.records import DEFAULT_TTL, Record, txt_zone_value

logger = logging.getLogger(__name__)

HTTP_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
CLOUDFLARE_API_URL = "https://api.cloudflare.com/client/v4"

# What each offered provider needs from the customer; `optional` fields may be left empty.
PROVIDER_FIELDS = {
    "powerdns": ["pdns_server", "auth_token", "pdns_server_id"],
    "cloudflare": ["auth_token", "zone_id"],
}
OPTIONAL_FIELDS = {"pdns_server_id", "zone_id", "zone"}
SECRET_FIELDS = {"auth_token"}
OFFERED = tuple(PROVIDER_FIELDS)


class ProviderError(Exception):
    """The DNS provider refused or could not be reached; the message is fit for customers."""


@dataclass(frozen=True)
class Existing:
    """A record as the provider lists it."""

    type: str
    name: str  # fully qualified, no trailing dot
    value: str  # logical: MX/SRV with priority, TXT unquoted and joined, names without the dot
    content: str  # the provider's own form (PowerDNS: rdata; Cloudflare: the record id)


@dataclass(frozen=True)
class Change:
    action: str  # create, delete, keep
    type: str
    name: str  # fully qualified, no trailing dot
    value: str  # logical value, as shown to the customer
    content: str  # what the provider is given (create) or what identifies it (delete)

    def as_dict(self) -> dict:
        return asdict(self)


# --- errors ------------------------------------------------------------------------------------


def _plain_error(label: str, what: str, exc: Exception) -> ProviderError:
    """A customer-safe message for a failed call; the details go to the log only."""
    logger.info("DNS provider %s: %s failed: %r", label, what, exc)
    if isinstance(exc, netguard.TargetNotAllowed):
        return ProviderError(f"{label}: {exc.message}")
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        if status in (401, 403):
            reason = "refused the credentials; check the API key or token and its permissions"
        elif status == 404:
            reason = "does not know this zone or record; check the zone and the server id"
        elif status in (400, 409, 422):
            reason = "refused the request as invalid"
        elif status == 429:
            reason = "asks us to slow down; try again in a minute"
        else:
            reason = "answered with an error"
        return ProviderError(f"{label} {reason} (HTTP {status}) while trying to {what}.")
    if isinstance(exc, httpx.HTTPError):
        return ProviderError(
            f"{label} could not be reached while trying to {what}; check the API URL and try again."
        )
    return ProviderError(f"{label} gave an answer we could not read while trying to {what}.")


# --- zones and values --------------------------------------------------------------------------


def find_zone(name: str, options: dict) -> str:
    """The zone that holds `name`: the account's `zone` option, else asked of our nameservers."""
    if options.get("zone"):
        return options["zone"].rstrip(".").lower()
    from mailherd.dns.resolver import make_resolver

    try:
        return dns.resolver.zone_for_name(name, resolver=make_resolver()).to_text(
            omit_final_dot=True
        )
    except dns.exception.DNSException:
        return name


_ZONE_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def zone_strings_join(text: str) -> str:
    r"""Join quoted zone-file strings: '"a" "b\"c"' → 'ab"c'; unquoted text is returned as is."""
    text = text.strip()
    if not (text.startswith('"') and text.endswith('"')):
        return text
    return "".join(re.sub(r"\\(.)", r"\1", p) for p in _ZONE_STRING.findall(text))


def _host(value: str) -> str:
    return value.strip().rstrip(".").lower()


def logical_value(record: Record) -> str:
    """How a record of ours compares with a listed one (the same form as Existing.value)."""
    if record.type == "TXT":
        return record.value
    if record.type in ("MX", "SRV"):
        head, _, host = record.content.rpartition(" ")
        return f"{head} {_host(host)}".strip()
    return _host(record.content)


def _rdata_value(rtype: str, content: str) -> str:
    """The logical value of zone-file rdata ("10 host." → "10 host")."""
    if rtype == "TXT":
        return zone_strings_join(content)
    if rtype in ("MX", "SRV"):
        head, _, host = content.strip().rpartition(" ")
        return f"{' '.join(head.split())} {_host(host)}".strip()
    return _host(content)


# --- PowerDNS ----------------------------------------------------------------------------------


class PowerDns:
    label = "PowerDNS"

    def __init__(self, options: dict, zone: str):
        base = options["pdns_server"].rstrip("/")
        if not base.endswith("/api/v1"):
            base += "/api/v1"
        server_id = options.get("pdns_server_id") or "localhost"
        self.zone = zone
        self.zone_url = (
            f"{base}/servers/{quote(server_id, safe='')}/zones/{quote(zone + '.', safe='')}"
        )
        self.headers = {"X-API-Key": options["auth_token"], "Accept": "application/json"}
        self._rrsets: list[dict] | None = None

    def _call(self, method: str, what: str, **kwargs) -> httpx.Response:
        try:
            with netguard.guarded_client(timeout=HTTP_TIMEOUT) as client:
                response = client.request(method, self.zone_url, headers=self.headers, **kwargs)
                response.raise_for_status()
                return response
        except (httpx.HTTPError, netguard.TargetNotAllowed) as exc:
            raise _plain_error(self.label, what, exc) from exc

    def open(self) -> None:
        response = self._call("GET", f"open the zone {self.zone}")
        try:
            self._rrsets = list(response.json()["rrsets"])
        except (ValueError, KeyError, TypeError) as exc:
            raise _plain_error(self.label, f"open the zone {self.zone}", exc) from exc

    def list_records(self, rtype: str, name: str) -> list[Existing]:
        if self._rrsets is None:
            self.open()
        found = []
        for rrset in self._rrsets or []:
            if rrset.get("type") == rtype and _host(rrset.get("name", "")) == name:
                for record in rrset.get("records", []):
                    content = record.get("content", "")
                    found.append(Existing(rtype, name, _rdata_value(rtype, content), content))
        return found

    @staticmethod
    def content_for(record: Record) -> str:
        if record.type == "TXT":
            return txt_zone_value(record.value)
        if record.type in ("MX", "SRV", "CNAME"):
            head, _, host = record.content.rpartition(" ")
            return f"{head} {_host(host)}.".strip()
        return record.content

    def apply(self, changes: list[Change]) -> None:
        """One PATCH: each touched RRset replaced by its new record list (or deleted)."""
        if self._rrsets is None:
            self.open()
        touched: dict[tuple[str, str], list[str]] = {}
        ttls: dict[tuple[str, str], int] = {}
        for change in changes:
            key = (change.name, change.type)
            if key not in touched:
                touched[key] = [e.content for e in self.list_records(change.type, change.name)]
                ttls[key] = next(
                    (
                        int(r.get("ttl") or DEFAULT_TTL)
                        for r in self._rrsets or []
                        if r.get("type") == change.type and _host(r.get("name", "")) == change.name
                    ),
                    DEFAULT_TTL,
                )
            if change.action == "delete":
                touched[key] = [c for c in touched[key] if c != change.content]
            elif change.action == "create" and change.content not in touched[key]:
                touched[key].append(change.content)
        rrsets = []
        for (name, rtype), contents in touched.items():
            rrset = {"name": name + ".", "type": rtype, "changetype": "REPLACE"}
            if contents:
                rrset["ttl"] = ttls[(name, rtype)]
                rrset["records"] = [{"content": c, "disabled": False} for c in contents]
            else:
                rrset["changetype"] = "DELETE"
            rrsets.append(rrset)
        if rrsets:
            self._call("PATCH", "change the records", json={"rrsets": rrsets})
        self._rrsets = None


# --- Cloudflare --------------------------------------------------------------------------------


class Cloudflare:
    label = "Cloudflare"

    def __init__(self, options: dict, zone: str):
        self.zone = zone
        self.zone_id = options.get("zone_id", "")
        self.base = (
            getattr(settings, "MAILHERD_CLOUDFLARE_API_URL", "") or CLOUDFLARE_API_URL
        ).rstrip("/")
        self.headers = {
            "Authorization": f"Bearer {options['auth_token']}",
            "Accept": "application/json",
        }
        self.client = httpx.Client(timeout=HTTP_TIMEOUT, trust_env=False)

    def _call(self, method: str, path: str, what: str, **kwargs) -> dict:
        try:
            response = self.client.request(method, self.base + path, headers=self.headers, **kwargs)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise _plain_error(self.label, what, exc) from exc
        if not isinstance(body, dict) or not body.get("success", False):
            raise ProviderError(f"Cloudflare refused the request while trying to {what}.")
        return body

    def open(self) -> None:
        if self.zone_id:
            self._call(
                "GET", f"/zones/{quote(self.zone_id, safe='')}", f"open the zone {self.zone}"
            )
            return
        body = self._call("GET", "/zones", f"find the zone {self.zone}", params={"name": self.zone})
        zones = [z for z in body.get("result") or [] if _host(z.get("name", "")) == self.zone]
        if len(zones) != 1:
            raise ProviderError(
                f"Cloudflare has no zone {self.zone} for this token; check the token's zones."
            )
        self.zone_id = zones[0]["id"]

    def _records_path(self) -> str:
        return f"/zones/{quote(self.zone_id, safe='')}/dns_records"

    def list_records(self, rtype: str, name: str) -> list[Existing]:
        if not self.zone_id:
            self.open()
        found, page = [], 1
        while True:
            body = self._call(
                "GET",
                self._records_path(),
                f"list the {rtype} records of {name}",
                params={"type": rtype, "name": name, "per_page": 100, "page": page},
            )
            for item in body.get("result") or []:
                found.append(Existing(rtype, name, self._value(item), str(item["id"])))
            info = body.get("result_info") or {}
            if page >= int(info.get("total_pages") or 1):
                return found
            page += 1

    @staticmethod
    def _value(item: dict) -> str:
        rtype = item.get("type")
        if rtype == "MX":
            return f"{item.get('priority', 0)} {_host(item.get('content', ''))}"
        if rtype == "SRV":
            data = item.get("data") or {}
            if data:
                return (
                    f"{data.get('priority', 0)} {data.get('weight', 0)} {data.get('port', 0)} "
                    f"{_host(str(data.get('target', '')))}"
                )
            return _rdata_value("SRV", f"{item.get('priority', 0)} {item.get('content', '')}")
        if rtype == "TXT":
            return zone_strings_join(item.get("content", ""))
        return _host(item.get("content", ""))

    @staticmethod
    def content_for(record: Record) -> str:
        """The JSON body of POST /zones/{id}/dns_records for this record."""
        body: dict = {"type": record.type, "name": record.name, "ttl": record.ttl or DEFAULT_TTL}
        if record.type == "MX":
            body["content"] = _host(record.value)
            body["priority"] = int(record.priority or 0)
        elif record.type == "SRV":
            weight, port, target = record.value.split()
            body["data"] = {
                "priority": int(record.priority or 0),
                "weight": int(weight),
                "port": int(port),
                "target": _host(target),
            }
        elif record.type == "CNAME":
            body["content"] = _host(record.value)
            body["proxied"] = False  # mail-client set-up needs our host, not Cloudflare's proxy
        else:
            body["content"] = record.value
        return json.dumps(body, sort_keys=True)

    def apply(self, changes: list[Change]) -> None:
        if not self.zone_id:
            self.open()
        for change in changes:
            if change.action == "delete":
                self._call(
                    "DELETE",
                    f"{self._records_path()}/{quote(change.content, safe='')}",
                    f"remove the {change.type} record of {change.name}",
                )
        for change in changes:
            if change.action == "create":
                self._call(
                    "POST",
                    self._records_path(),
                    f"add the {change.type} record of {change.name}",
                    json=json.loads(change.content),
                )


CLIENTS = {"powerdns": PowerDns, "cloudflare": Cloudflare}


def check_options(provider_name: str, options: dict) -> None:
    """Refuse a customer-supplied API URL that points at a private, loopback or link-local address
    (unless the operator allows such targets: MAILHERD_ALLOW_PRIVATE_TARGETS / _ALLOWED_TARGETS)."""
    if provider_name == "powerdns":
        netguard.validate_url(
            options.get("pdns_server", ""), schemes=("https", "http"), field="options"
        )


def open_provider(*, provider_name: str, options: dict, domain: str):
    """A client of the provider for the zone holding `domain`, its zone already opened."""
    if provider_name not in CLIENTS:
        raise ProviderError(
            "This DNS provider is no longer offered for automatic set-up; add the records by hand "
            "or link a PowerDNS or Cloudflare account."
        )
    try:
        check_options(provider_name, options)
    except netguard.TargetNotAllowed as exc:
        raise ProviderError(exc.message) from exc
    provider = CLIENTS[provider_name](options, find_zone(domain, options))
    provider.open()
    return provider


# --- the plan ---------------------------------------------------------------------------------


def _replaces(record: Record, existing_value: str) -> bool:
    """Return True if an existing record at our name and type is one ours supersedes.

    Only what would conflict is removed: other SPF/DMARC/MTA-STS/TLS-RPT
    records, any other MX, DKIM key at our selector, CNAME or SRV at our names.
    Unrelated TXT records (someone else's site verification) are kept.
    """
    if record.type != "TXT":
        return True
    if record.key == "spf":
        return syntax.is_spf(existing_value)
    if record.key == "dmarc":
        return syntax.is_dmarc(existing_value)
    if record.key == "dkim":
        return True
    if record.key == "mta_sts":
        return existing_value.startswith("v=STSv1")
    if record.key == "tls_rpt":
        return existing_value.startswith("v=TLSRPTv1")
    return False


def plan_changes(provider, records: list[Record]) -> list[Change]:
    changes: list[Change] = []
    listed: dict[tuple[str, str], list[Existing]] = {}
    for record in records:
        if record.optional:
            continue
        key = (record.type, record.name)
        if key not in listed:
            listed[key] = provider.list_records(record.type, record.name)
        want = logical_value(record)
        present = False
        for existing in listed[key]:
            if existing.value == want:
                present = True
                changes.append(
                    Change("keep", record.type, record.name, existing.value, existing.content)
                )
            elif _replaces(record, existing.value):
                change = Change(
                    "delete", record.type, record.name, existing.value, existing.content
                )
                if change not in changes:
                    changes.append(change)
        if not present:
            changes.append(
                Change("create", record.type, record.name, want, provider.content_for(record))
            )
    return changes


def fingerprint(changes: list[Change]) -> str:
    payload = json.dumps([c.as_dict() for c in changes if c.action != "keep"], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def apply_changes(provider, changes: list[Change]) -> None:
    """Deletes first (a CNAME cannot sit beside its replacement), then creates."""
    provider.apply([c for c in changes if c.action != "keep"])
