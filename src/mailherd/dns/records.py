"""The DNS records a domain needs, as they must appear in DNS (see docs/dns.md).

Generation is a pure function of a `RecordSpec` (what Mailherd knows about the
domain, its server and the customer's DNS choices), so it can be tested
without a database; `domain_records(domain)` builds the spec from the models.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime
from urllib.parse import urlparse

import idna
from django.conf import settings

from mailherd.core.errors import InvalidAddress

DEFAULT_TTL = 3600
TXT_CHUNK = 255  # one <character-string> in a TXT record holds at most 255 octets (RFC 1035 3.3)
MAX_LABEL = 63
MAX_NAME = 253

# Stable keys: the check history and regressions refer to records by these.
KEY_VERIFY = "verify"
KEY_MX = "mx"
KEY_SPF = "spf"
KEY_DKIM = "dkim"
KEY_DMARC = "dmarc"
KEY_PTR = "ptr"
KEY_RELAY_MX = "relay_mx"  # the smarthost's envelope-sender subdomain: MX
KEY_RELAY_SPF = "relay_spf"  # ... and its SPF
KEY_RELAY_DKIM = "relay_dkim"  # the smarthost's DKIM key (TXT or CNAME)
KEY_DKIM_NEXT = "dkim_next"  # a DKIM key change: the next key (publish now)
KEY_DKIM_PREVIOUS = "dkim_previous"  # ... and the previous one (keep a few days)


@dataclass(frozen=True)
class Record:
    """One resource record. `name` is fully qualified without the trailing dot.

    For MX and SRV the priority is kept apart from `value` (that is how DNS
    panels ask for it): an SRV value is "weight port target".
    """

    type: str
    name: str
    value: str
    priority: int | None = None
    ttl: int = DEFAULT_TTL
    purpose: str = ""
    key: str = ""
    zone: str = ""  # the customer's domain; `relative` is computed against it
    optional: bool = False  # informational rows (reverse DNS) the customer does not publish

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def relative(self) -> str:
        """The host as most DNS panels want it: "@" for the apex, "mail._domainkey" below it.

        >>> Record("TXT", "dkim._domainkey.acme.test", "v=DKIM1", zone="acme.test").relative
        'dkim._domainkey'
        """
        zone = self.zone or self.name
        if self.name == zone:
            return "@"
        if self.name.endswith("." + zone):
            return self.name[: -len(zone) - 1]
        return self.name + "."

    @property
    def content(self) -> str:
        """The value as it appears in DNS data: priority included for MX and SRV."""
        if self.priority is not None and self.type in ("MX", "SRV"):
            return f"{self.priority} {self.value}"
        return self.value

    @property
    def txt_strings(self) -> list[str]:
        return txt_split(self.value) if self.type == "TXT" else []

    @property
    def zone_line(self) -> str:
        """One line of a BIND zone file.

        >>> Record("MX", "acme.test", "mail.host.test", priority=10).zone_line
        'acme.test.\\t3600\\tIN\\tMX\\t10 mail.host.test.'
        """
        if self.type == "TXT":
            data = txt_zone_value(self.value)
        elif self.type in ("MX", "CNAME", "SRV", "PTR"):
            data = _with_dot(self.content)
        else:
            data = self.content
        return f"{self.name}.\t{self.ttl}\tIN\t{self.type}\t{data}"


def _with_dot(content: str) -> str:
    # The last field of MX/CNAME/SRV/PTR data is a host name: absolute in a zone file.
    head, _, host = content.rpartition(" ")
    host = host if host.endswith(".") else host + "."
    return f"{head} {host}" if head else host


def txt_split(value: str, size: int = TXT_CHUNK) -> list[str]:
    """Split a TXT value into character-strings of at most `size` octets.

    Splits on UTF-8 octets, never inside a multi-byte character.

    >>> [len(s) for s in txt_split("x" * 600)]
    [255, 255, 90]
    """
    data = value.encode()
    chunks, start = [], 0
    while start < len(data):
        end = min(start + size, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # continuation byte: step back
            end -= 1
        chunks.append(data[start:end].decode())
        start = end
    return chunks or [""]


def txt_quote(chunk: str) -> str:
    """Quote one character-string for a zone file (backslash and double quote escaped)."""
    return '"' + chunk.replace("\\", "\\\\").replace('"', '\\"') + '"'


def txt_zone_value(value: str) -> str:
    """A TXT value as zone-file data: quoted 255-octet strings separated by spaces.

    >>> txt_zone_value('say "hi"')
    '"say \\\\"hi\\\\""'
    """
    return " ".join(txt_quote(chunk) for chunk in txt_split(value))


def normalize_name(name: str) -> str:
    """A DNS name as Mailherd stores it: ASCII (punycode), lower case, no trailing dot.

    Raise InvalidAddress for names DNS cannot hold (empty labels, labels over
    63 octets, names over 253).

    >>> normalize_name("Bücher.Example.")
    'xn--bcher-kva.example'
    """
    raw = (name or "").strip().rstrip(".")
    if not raw:
        raise InvalidAddress("An empty name is not a DNS name.", field="name")
    labels = []
    for label in raw.split("."):
        if not label:
            raise InvalidAddress(f"{raw} has an empty label.", field="name")
        try:
            ascii_label = (
                label.lower() if label.isascii() else idna.encode(label, uts46=True).decode()
            )
        except idna.IDNAError as exc:
            raise InvalidAddress(f"{raw} is not a valid DNS name: {exc}", field="name")
        if len(ascii_label) > MAX_LABEL:
            raise InvalidAddress(
                f"{raw}: the label {label[:20]}… is longer than {MAX_LABEL} characters.",
                field="name",
            )
        labels.append(ascii_label.lower())
    result = ".".join(labels)
    if len(result) > MAX_NAME:
        raise InvalidAddress(f"{raw[:40]}… is longer than {MAX_NAME} characters.", field="name")
    return result


@dataclass(frozen=True)
class DmarcPolicy:
    policy: str = "none"  # none, quarantine, reject
    rua: str = ""  # a mailbox address; empty: no aggregate reports
    pct: int = 100

    def value(self) -> str:
        """The DMARC TXT value.

        >>> DmarcPolicy("quarantine", "dmarc@acme.test", 25).value()
        'v=DMARC1; p=quarantine; pct=25; rua=mailto:dmarc@acme.test'
        """
        parts = ["v=DMARC1", f"p={self.policy}"]
        if self.policy != "none" and self.pct < 100:
            parts.append(f"pct={self.pct}")
        if self.rua:
            parts.append(f"rua=mailto:{self.rua}")
        return "; ".join(parts)


@dataclass(frozen=True)
class ServerSpec:
    host: str  # MX target and SPF a: host
    imap_host: str = ""
    imap_port: int = 993
    pop3_host: str = ""
    pop3_port: int = 995
    smtp_host: str = ""
    smtp_port: int = 587
    spf_includes: tuple[str, ...] = ()  # e.g. the smarthost's include when mail relays through one


@dataclass(frozen=True)
class RelaySpec:
    """What the domain's smarthost needs in DNS (see mailcow.models.Relay)."""

    name: str
    spf_include: str = ""
    envelope_subdomain: str = ""  # e.g. "send": its own MX and SPF; else the include goes to the apex
    envelope_mx: str = ""
    dkim_selector: str = ""
    dkim_type: str = ""  # "TXT", "CNAME" or ""
    dkim_value: str = ""  # {domain} already replaced


@dataclass(frozen=True)
class RecordSpec:
    domain: str
    verification_name: str
    verification_value: str
    server: ServerSpec | None = None
    dkim_selector: str = "dkim"
    dkim_txt: str = ""
    # A DKIM key change under way: (selector, txt, purpose, key, optional) rows beside the key.
    dkim_extra: tuple[tuple[str, str, str, str, bool], ...] = ()
    dmarc: DmarcPolicy = field(default_factory=DmarcPolicy)
    extra_spf_includes: tuple[str, ...] = ()
    setup_host: str = ""  # where autoconfig/autodiscover/mta-sts CNAMEs point
    mta_sts_mode: str = "off"  # off, testing, enforce
    mta_sts_id: str = ""
    tls_rpt_rua: str = ""
    relay: RelaySpec | None = None
    ttl: int = DEFAULT_TTL


def spf_value(server: ServerSpec, extra_includes=()) -> str:
    """The SPF value: the server, then any includes, then -all.

    >>> spf_value(ServerSpec("mail.host.test", spf_includes=("_spf.relay.test",)))
    'v=spf1 mx a:mail.host.test include:_spf.relay.test -all'
    """
    includes = []
    for include in (*server.spf_includes, *extra_includes):
        if include and include not in includes:
            includes.append(include)
    return " ".join(
        ["v=spf1", "mx", f"a:{server.host}", *(f"include:{i}" for i in includes), "-all"]
    )


def build_records(spec: RecordSpec) -> list[Record]:
    """Return every record the domain should publish, in the order they are shown."""
    d, ttl = spec.domain, spec.ttl

    def rec(rtype, name, value, purpose, key, priority=None):
        return Record(
            rtype, name, value, priority=priority, ttl=ttl, purpose=purpose, key=key, zone=d
        )

    records = [rec("TXT", spec.verification_name, spec.verification_value, "ownership", KEY_VERIFY)]
    server = spec.server
    if server is None or not server.host:
        return records
    setup_host = spec.setup_host or server.host
    relay = spec.relay
    apex_includes = spec.extra_spf_includes
    if relay and relay.spf_include and not relay.envelope_subdomain:
        apex_includes = (relay.spf_include, *apex_includes)
    records += [
        rec("MX", d, server.host, "mail delivery", KEY_MX, priority=10),
        rec("TXT", d, spf_value(server, apex_includes), "SPF: who may send", KEY_SPF),
    ]
    if spec.dkim_txt:
        records.append(
            rec(
                "TXT",
                f"{spec.dkim_selector}._domainkey.{d}",
                spec.dkim_txt,
                "DKIM signature key",
                KEY_DKIM,
            )
        )
    for selector, txt, purpose, key, optional in spec.dkim_extra:
        records.append(
            Record(
                "TXT",
                f"{selector}._domainkey.{d}",
                txt,
                ttl=ttl,
                purpose=purpose,
                key=key,
                zone=d,
                optional=optional,
            )
        )
    if relay:
        records += _relay_records(relay, rec, d)
    records += [
        rec("TXT", f"_dmarc.{d}", spec.dmarc.value(), "DMARC policy", KEY_DMARC),
        rec("CNAME", f"autoconfig.{d}", setup_host, "client set-up (Thunderbird)", "autoconfig"),
        rec("CNAME", f"autodiscover.{d}", setup_host, "client set-up (Outlook)", "autodiscover"),
    ]
    imap = server.imap_host or server.host
    smtp = server.smtp_host or server.host
    pop3 = server.pop3_host or server.host
    srv = [
        ("_imap._tcp", f"1 143 {imap}", "IMAP with STARTTLS (RFC 6186)", "srv_imap"),
        ("_imaps._tcp", f"1 {server.imap_port} {imap}", "IMAP over TLS (RFC 6186)", "srv_imaps"),
        ("_pop3s._tcp", f"1 {server.pop3_port} {pop3}", "POP3 over TLS (RFC 6186)", "srv_pop3s"),
        (
            "_submissions._tcp" if server.smtp_port == 465 else "_submission._tcp",
            f"1 {server.smtp_port} {smtp}",
            "sending (RFC 6186)",
            "srv_submission",
        ),
        ("_autodiscover._tcp", f"1 443 {setup_host}", "Outlook set-up", "srv_autodiscover"),
    ]
    records += [
        rec("SRV", f"{label}.{d}", value, purpose, key, priority=0)
        for label, value, purpose, key in srv
    ]
    if spec.mta_sts_mode in ("testing", "enforce"):
        records += [
            rec(
                "TXT",
                f"_mta-sts.{d}",
                f"v=STSv1; id={spec.mta_sts_id}",
                "MTA-STS policy version",
                "mta_sts",
            ),
            rec("CNAME", f"mta-sts.{d}", setup_host, "MTA-STS policy host", "mta_sts_host"),
        ]
    if spec.tls_rpt_rua:
        records.append(
            rec(
                "TXT",
                f"_smtp._tls.{d}",
                f"v=TLSRPTv1; rua=mailto:{spec.tls_rpt_rua}",
                "TLS reports",
                "tls_rpt",
            )
        )
    return records


def _relay_records(relay: RelaySpec, rec, d: str) -> list[Record]:
    """The smarthost's rows: envelope-sender subdomain (MX + SPF) and its DKIM key."""
    rows = []
    if relay.envelope_subdomain:
        sub = f"{relay.envelope_subdomain}.{d}"
        rows += [
            rec("MX", sub, relay.envelope_mx, f"bounces via {relay.name}", KEY_RELAY_MX, priority=10),
            rec("TXT", sub, f"v=spf1 include:{relay.spf_include} ~all", f"SPF of {relay.name}", KEY_RELAY_SPF),
        ]
    if relay.dkim_type and relay.dkim_selector and relay.dkim_value:
        rows.append(
            rec(
                relay.dkim_type,
                f"{relay.dkim_selector}._domainkey.{d}",
                relay.dkim_value,
                f"DKIM key of {relay.name}",
                KEY_RELAY_DKIM,
            )
        )
    return rows


def relay_spec(domain) -> RelaySpec | None:
    """The DNS needs of the smarthost the domain's mail leaves through, or None."""
    from mailherd.mailcow.relays import effective_relay

    relay = effective_relay(domain)
    if relay is None:
        return None
    return RelaySpec(
        name=relay.name,
        spf_include=relay.spf_include,
        envelope_subdomain=relay.envelope_subdomain,
        envelope_mx=relay.envelope_mx,
        dkim_selector=relay.dkim_selector,
        dkim_type=relay.dkim_type,
        dkim_value=relay.dkim_value.replace("{domain}", domain.name),
    )


def setup_host() -> str:
    """The host the autoconfig/autodiscover/mta-sts CNAMEs point at: Mailherd itself.

    MAILHERD_AUTOCONFIG_HOST wins; else the SITE_URL host when it is a real DNS
    name; else "" (the records then point at the mail server, which Mailcow
    also answers autoconfig for).
    """
    explicit = getattr(settings, "MAILHERD_AUTOCONFIG_HOST", "")
    if explicit:
        return explicit.rstrip(".").lower()
    host = (urlparse(settings.SITE_URL).hostname or "").lower()
    if (
        "." not in host
        or host.replace(".", "").isdigit()
        or host.endswith(("localhost", ".local"))
        or ":" in host
    ):
        return ""
    return host


def server_spec(server) -> ServerSpec | None:
    if server is None or not server.public_host:
        return None
    return ServerSpec(
        host=server.public_host.rstrip(".").lower(),
        imap_host=server.imap_host,
        imap_port=server.imap_port,
        pop3_host=server.pop3_host,
        pop3_port=server.pop3_port,
        smtp_host=server.smtp_host,
        smtp_port=server.smtp_port,
    )


def record_spec(domain, dns_settings=None, *, now: datetime | None = None) -> RecordSpec:
    from mailherd.dns.selectors import dns_settings_for
    from mailherd.hosting.services.dkim_rotation import dkim_rotation_records

    dns_settings = dns_settings or dns_settings_for(domain=domain)
    return RecordSpec(
        domain=domain.name,
        verification_name=domain.verification_record_name,
        verification_value=domain.verification_record_value,
        server=server_spec(domain.mail_server),
        dkim_selector=domain.dkim_selector,
        dkim_txt=domain.dkim_txt,
        dkim_extra=tuple(dkim_rotation_records(domain)),
        dmarc=DmarcPolicy(
            dns_settings.dmarc_policy,
            dns_settings.dmarc_rua_address(domain),
            dns_settings.dmarc_pct,
        ),
        extra_spf_includes=tuple(dns_settings.spf_include.split()),
        setup_host=setup_host(),
        mta_sts_mode=dns_settings.mta_sts_mode,
        mta_sts_id=dns_settings.mta_sts_id,
        tls_rpt_rua=dns_settings.tls_rpt_rua,
        relay=relay_spec(domain),
    )


def domain_records(domain, dns_settings=None) -> list[Record]:
    """Return the verification TXT and, once the domain has a server, the mail records."""
    return build_records(record_spec(domain, dns_settings))


def zone_file(domain_name: str, records: list[Record], *, product_name: str = "") -> str:
    """A BIND zone-file fragment with every record (TXT split into 255-octet strings)."""
    header = [
        f"; DNS records for {domain_name}"
        + (f", generated by {product_name}" if product_name else ""),
        "; Paste into your zone; names are absolute (they end with a dot).",
    ]
    lines = [r.zone_line for r in records if not r.optional]
    return "\n".join(header + lines) + "\n"
