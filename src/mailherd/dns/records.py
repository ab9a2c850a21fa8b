"""The DNS records a domain needs, as they must appear in DNS."""

from dataclasses import asdict, dataclass

DEFAULT_TTL = 3600


@dataclass(frozen=True)
class Record:
    type: str
    name: str  # fully qualified, no trailing dot
    value: str
    priority: int | None = None
    ttl: int = DEFAULT_TTL
    purpose: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def domain_records(domain) -> list[Record]:
    """Return the verification TXT and, once the domain has a server, the mail records."""
    records = [
        Record("TXT", domain.verification_record_name, domain.verification_record_value, purpose="ownership")
    ]
    server = domain.mail_server
    if server is None:
        return records
    mx_host = server.public_host
    records += [
        Record("MX", domain.name, mx_host, priority=10, purpose="mail delivery"),
        Record("TXT", domain.name, f"v=spf1 mx a:{mx_host} -all", purpose="SPF"),
        Record("TXT", f"_dmarc.{domain.name}", f"v=DMARC1; p=none; rua=mailto:postmaster@{domain.name}", purpose="DMARC"),
        Record("CNAME", f"autoconfig.{domain.name}", mx_host, purpose="client set-up"),
        Record("CNAME", f"autodiscover.{domain.name}", mx_host, purpose="client set-up"),
    ]
    if domain.dkim_txt:
        records.append(Record("TXT", f"{domain.dkim_selector}._domainkey.{domain.name}", domain.dkim_txt, purpose="DKIM"))
    return records
