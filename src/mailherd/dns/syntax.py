"""Parsing SPF (RFC 7208), DMARC (RFC 7489) and DKIM key (RFC 6376) TXT values. Pure functions."""

import ipaddress
import re
from dataclasses import dataclass, field

SPF_LOOKUP_LIMIT = 10
# Terms that cost a DNS lookup (RFC 7208 4.6.4).
SPF_LOOKUP_MECHANISMS = {"include", "a", "mx", "ptr", "exists"}
SPF_MECHANISMS = {"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"}
_MODIFIER = re.compile(r"^([a-zA-Z][a-zA-Z0-9_.-]*)=(.*)$")
_DOMAIN_SPEC = re.compile(r"^[A-Za-z0-9_.%{}+\-/=]+$")


@dataclass
class SpfTerm:
    qualifier: str  # + - ~ ?
    mechanism: str  # all, include, a, ... or a modifier name (redirect, exp)
    value: str = ""
    modifier: bool = False

    def __str__(self) -> str:
        if self.modifier:
            return f"{self.mechanism}={self.value}"
        q = "" if self.qualifier == "+" else self.qualifier
        return f"{q}{self.mechanism}" + (f":{self.value}" if self.value else "")


@dataclass
class SpfRecord:
    terms: list[SpfTerm] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def lookup_terms(self) -> list[SpfTerm]:
        return [
            t
            for t in self.terms
            if (not t.modifier and t.mechanism in SPF_LOOKUP_MECHANISMS)
            or (t.modifier and t.mechanism == "redirect")
        ]

    def has(self, mechanism: str, value: str = "") -> bool:
        value = value.lower().rstrip(".")
        return any(
            not t.modifier
            and t.mechanism == mechanism
            and t.value.lower().rstrip(".").split("/")[0] == value
            and t.qualifier == "+"
            for t in self.terms
        )

    @property
    def all_qualifier(self) -> str | None:
        for t in self.terms:
            if not t.modifier and t.mechanism == "all":
                return t.qualifier
        return None


def is_spf(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


def parse_spf(value: str) -> SpfRecord:
    """Parse an SPF record, collecting syntax errors instead of raising.

    >>> r = parse_spf("v=spf1 mx a:mail.host.test ~all")
    >>> [str(t) for t in r.terms], r.errors
    (['mx', 'a:mail.host.test', '~all'], [])
    >>> parse_spf("v=spf1 ip4:300.1.1.1 -all").errors
    ['ip4:300.1.1.1: not an IPv4 address or network']
    """
    record = SpfRecord()
    words = value.split()
    if not words or words[0].lower() != "v=spf1":
        record.errors.append('does not start with "v=spf1"')
        return record
    seen_all = False
    for word in words[1:]:
        if seen_all:
            record.warnings.append(f"{word}: ignored, it comes after all")
        match = _MODIFIER.match(word)
        if match and ":" not in match.group(1):
            name, val = match.group(1).lower(), match.group(2)
            if name in ("redirect", "exp"):
                if any(t.modifier and t.mechanism == name for t in record.terms):
                    record.errors.append(f"{name}= appears more than once")
                if not val:
                    record.errors.append(f"{name}= needs a domain")
            record.terms.append(SpfTerm("+", name, val, modifier=True))
            continue
        qualifier = "+"
        if word[0] in "+-~?":
            qualifier, word = word[0], word[1:]
        mechanism, _, val = word.partition(":")
        if "/" in mechanism and mechanism.split("/")[0].lower() in ("a", "mx"):
            mechanism, _, cidr = mechanism.partition("/")
            val = "/" + cidr
        mechanism = mechanism.lower()
        if mechanism not in SPF_MECHANISMS:
            record.errors.append(f"{word}: unknown mechanism")
            continue
        error = _check_mechanism(mechanism, val)
        if error:
            record.errors.append(f"{word}: {error}")
        record.terms.append(SpfTerm(qualifier, mechanism, val))
        seen_all = seen_all or mechanism == "all"
    return record


def _check_mechanism(mechanism: str, value: str) -> str:
    if mechanism == "all":
        return "all takes no value" if value else ""
    if mechanism in ("include", "exists"):
        return "" if value and _DOMAIN_SPEC.match(value) else f"{mechanism} needs a domain"
    if mechanism in ("ip4", "ip6"):
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return f"not an IPv{mechanism[-1]} address or network"
        return (
            ""
            if network.version == int(mechanism[-1])
            else f"not an IPv{mechanism[-1]} address or network"
        )
    if value:  # a, mx, ptr: optional domain and /cidr
        domain, _, cidr = value.partition("/")
        if domain and not _DOMAIN_SPEC.match(domain):
            return "not a domain"
        if cidr and not all(part.isdigit() for part in cidr.split("//") if part):
            return "bad prefix length"
    return ""


def parse_tags(value: str) -> tuple[dict[str, str], list[str]]:
    """Parse "k=v; k=v" tag lists (DKIM and DMARC), returning (tags, errors).

    >>> parse_tags("v=DKIM1; k=rsa; p=MIIB")
    ({'v': 'DKIM1', 'k': 'rsa', 'p': 'MIIB'}, [])
    """
    tags: dict[str, str] = {}
    errors = []
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, val = part.partition("=")
        name = name.strip().lower()
        if not sep or not name:
            errors.append(f"{part[:40]}: not a tag=value pair")
            continue
        if name in tags:
            errors.append(f"{name}= appears more than once")
        tags[name] = "".join(val.split()) if name == "p" else val.strip()
    return tags, errors


DMARC_POLICIES = ("none", "quarantine", "reject")


def is_dmarc(value: str) -> bool:
    return value.strip().replace(" ", "").upper().startswith("V=DMARC1")


def parse_dmarc(value: str) -> tuple[dict[str, str], list[str]]:
    """Parse a DMARC record; return (tags, errors).

    >>> parse_dmarc("v=DMARC1; p=quarantine; pct=150")[1]
    ['pct=150: must be 0 to 100']
    >>> parse_dmarc("v=DMARC1; rua=mailto:d@acme.test")[1]
    ['p= is required']
    """
    tags, errors = parse_tags(value)
    if value.split(";")[0].strip().replace(" ", "") != "v=DMARC1":
        errors.insert(0, 'must start with "v=DMARC1"')
    policy = tags.get("p")
    if policy is None:
        errors.append("p= is required")
    elif policy.lower() not in DMARC_POLICIES:
        errors.append(f"p={policy}: must be none, quarantine or reject")
    if "sp" in tags and tags["sp"].lower() not in DMARC_POLICIES:
        errors.append(f"sp={tags['sp']}: must be none, quarantine or reject")
    if "pct" in tags and not (tags["pct"].isdigit() and 0 <= int(tags["pct"]) <= 100):
        errors.append(f"pct={tags['pct']}: must be 0 to 100")
    for name in ("adkim", "aspf"):
        if name in tags and tags[name].lower() not in ("r", "s"):
            errors.append(f"{name}={tags[name]}: must be r or s")
    for name in ("rua", "ruf"):
        for uri in filter(None, (u.strip() for u in tags.get(name, "").split(","))):
            lowered = uri.lower()
            if not (lowered.startswith("mailto:") and "@" in lowered) and not lowered.startswith(
                "https:"
            ):
                errors.append(f"{name}: {uri[:60]} is not a mailto: address")
    return tags, errors


def dmarc_addresses(tags: dict[str, str], name: str = "rua") -> list[str]:
    """The mailto: addresses of a DMARC report tag, without size limits.

    >>> dmarc_addresses({"rua": "mailto:a@x.test!10m, mailto:B@y.test"})
    ['a@x.test', 'b@y.test']
    """
    out = []
    for uri in tags.get(name, "").split(","):
        uri = uri.strip()
        if uri.lower().startswith("mailto:"):
            out.append(uri[7:].split("!")[0].lower())
    return out


def dkim_public_key(value: str) -> str:
    """The p= of a DKIM key record ("" when absent)."""
    return parse_tags(value)[0].get("p", "")
