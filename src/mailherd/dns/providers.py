"""Automatic set-up at the customer's DNS provider through dns-lexicon (see docs/dns.md).

We do not use `lexicon.client.Client`: to find the zone it asks either the
system resolver (`dns.resolver.zone_for_name`) or tldextract, which downloads
the public-suffix list. Both are traffic we do not control. We find the zone
with our own resolver and build the provider object directly.

The push works in two steps, so that what is applied is exactly what was shown:
1. `push_plan` lists the provider's records at our names and returns the
   changes (delete conflicting, create missing, keep correct) with a fingerprint;
2. `push_apply` recomputes the plan, refuses if its fingerprint differs from
   the one shown, then deletes and creates.
"""

import hashlib
import importlib
import json
import re
from dataclasses import asdict, dataclass

import dns.exception
import dns.resolver

from mailherd.dns import syntax
from mailherd.dns.records import DEFAULT_TTL, Record, txt_quote, txt_split

HTTP_TIMEOUT = (5, 20)  # connect, read: seconds


class ProviderError(Exception):
    """The DNS provider refused or could not be reached."""


@dataclass(frozen=True)
class Change:
    action: str  # create, delete, keep
    type: str
    name: str  # fully qualified, no trailing dot
    value: str  # logical value (TXT unquoted and joined; MX/SRV with priority)
    content: str  # what lexicon is given / returned for this provider

    def as_dict(self) -> dict:
        return asdict(self)


def _provider_class(provider_name: str):
    if not re.fullmatch(r"[a-z0-9_]+", provider_name):
        raise ProviderError(f"unknown provider {provider_name!r}")
    # lexicon's own loader (lexicon._private.discovery.load_provider_module) does the same import.
    module = importlib.import_module(f"lexicon._private.providers.{provider_name}")
    base = module.Provider
    if provider_name == "powerdns":
        return _powerdns_class(base)
    return base


def _powerdns_class(base):
    import requests

    class PowerDNSProvider(base):
        """lexicon's PowerDNS provider with two fixes.

        - CNAME targets outside the zone: lexicon appends the zone to any name
          not ending in it ("mail.host.test" became "mail.host.test.acme.test.").
        - Timeouts: lexicon calls requests without one; a silent server would
          hang the worker.
        """

        def _clean_content(self, rtype, content):
            if rtype == "CNAME":
                return content.rstrip(".") + "."
            return super()._clean_content(rtype, content)

        def _unclean_content(self, rtype, content):
            if rtype == "CNAME":
                return content.rstrip(".")
            return super()._unclean_content(rtype, content)

        def _request(self, action="GET", url="/", data=None, query_params=None):
            response = requests.request(
                action,
                self.api_endpoint + url,
                params=query_params or {},
                data=json.dumps(data or {}),
                headers={"X-API-Key": self.api_key, "Content-Type": "application/json"},
                timeout=HTTP_TIMEOUT,
            )
            response.raise_for_status()
            return response

    return PowerDNSProvider


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


def open_provider(*, provider_name: str, options: dict, domain: str):
    """An authenticated lexicon provider for the zone holding `domain`."""
    from lexicon.config import ConfigResolver

    provider_options = {k: v for k, v in options.items() if k != "zone"}
    zone = find_zone(domain, options)
    config = ConfigResolver().with_dict(
        {
            "provider_name": provider_name,
            "domain": zone,
            "ttl": DEFAULT_TTL,
            provider_name: provider_options,
        }
    )
    provider = _provider_class(provider_name)(config)
    try:
        provider.authenticate()
    except Exception as exc:  # lexicon providers raise requests' or their own errors
        raise ProviderError(f"{provider_name}: cannot open zone {zone}: {_short(exc)}") from exc
    return provider


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "…"


# --- content forms --------------------------------------------------------------------

_ZONE_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _zone_strings_join(text: str) -> str:
    r"""Join quoted zone-file strings: '"a" "b\"c"' → 'ab"c'."""
    parts = _ZONE_STRING.findall(text)
    return "".join(re.sub(r"\\(.)", r"\1", p) for p in parts)


def content_for(provider_name: str, record: Record) -> str:
    """What to hand lexicon's create_record for this record."""
    if record.type == "TXT":
        if provider_name == "powerdns":
            # lexicon adds the outer quotes; a long value must be split into 255-octet strings.
            return '" "'.join(txt_quote(chunk)[1:-1] for chunk in txt_split(record.value))
        return record.value
    if record.type in ("MX", "SRV", "CNAME"):
        return record.content.rstrip(".") + "."
    return record.content


def value_of(provider_name: str, rtype: str, content: str) -> str:
    """The logical value of a record as lexicon lists it."""
    if rtype == "TXT":
        if provider_name == "powerdns":
            return _zone_strings_join(f'"{content}"')
        return content
    return content.rstrip(".").lower()


# --- the plan ---------------------------------------------------------------------------


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


def plan_changes(provider, provider_name: str, records: list[Record]) -> list[Change]:
    changes: list[Change] = []
    listed: dict[tuple[str, str], list[dict]] = {}
    for record in records:
        if record.optional:
            continue
        key = (record.type, record.name)
        if key not in listed:
            try:
                listed[key] = provider.list_records(rtype=record.type, name=record.name)
            except Exception as exc:
                raise ProviderError(
                    f"cannot list {record.type} {record.name}: {_short(exc)}"
                ) from exc
        want = record.content if record.type != "TXT" else record.value
        want_cmp = want if record.type == "TXT" else want.lower().rstrip(".")
        present = False
        for existing in listed[key]:
            value = value_of(provider_name, record.type, existing["content"])
            if value == want_cmp:
                present = True
                changes.append(Change("keep", record.type, record.name, value, existing["content"]))
            elif _replaces(record, value):
                change = Change("delete", record.type, record.name, value, existing["content"])
                if change not in changes:
                    changes.append(change)
        if not present:
            changes.append(
                Change("create", record.type, record.name, want, content_for(provider_name, record))
            )
    return changes


def fingerprint(changes: list[Change]) -> str:
    payload = json.dumps([c.as_dict() for c in changes if c.action != "keep"], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def apply_changes(provider, changes: list[Change]) -> None:
    """Deletes first (a CNAME cannot sit beside its replacement), then creates."""
    for change in changes:
        if change.action == "delete":
            try:
                provider.delete_record(None, change.type, change.name + ".", change.content)
            except Exception as exc:
                raise ProviderError(
                    f"cannot delete {change.type} {change.name}: {_short(exc)}"
                ) from exc
    for change in changes:
        if change.action == "create":
            try:
                provider.create_record(change.type, change.name + ".", change.content)
            except Exception as exc:
                raise ProviderError(
                    f"cannot create {change.type} {change.name}: {_short(exc)}"
                ) from exc
