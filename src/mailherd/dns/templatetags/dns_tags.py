"""Template helpers so the records partial works wherever it is included (it needs only domain and records)."""

from django import template

from mailherd.dns import selectors
from mailherd.dns.records import domain_records

register = template.Library()

# How common DNS panels name the fields; shown once under the table.
PANEL_NOTES = [
    (
        "Cloudflare",
        "Name",
        "Type the relative host (@, dkim._domainkey); Cloudflare adds the domain. "
        "Set the proxy to “DNS only” for the CNAMEs. SRV: service, protocol, name, priority, weight, port and target "
        "are separate fields.",
    ),
    (
        "GoDaddy",
        "Host / Name",
        "Relative host, “@” for the domain itself; GoDaddy adds the domain. "
        "Paste TXT values without quotes.",
    ),
    (
        "Namecheap",
        "Host",
        "Relative host, “@” for the domain. MX needs “Custom MX” under Mail settings.",
    ),
    (
        "OVHcloud",
        "Sub-domain",
        "Relative host; leave empty for the domain itself. OVH may add quotes to TXT: keep them.",
    ),
    ("IONOS / Strato / Hetzner", "Host name / Name", "Relative host, “@” for the domain."),
    (
        "AWS Route 53 / Google Cloud DNS",
        "Record name",
        "Full name. TXT values in quotes; a DKIM key longer than "
        "255 characters as several quoted strings: take it from the zone file.",
    ),
    (
        "BIND / PowerDNS / Knot (zone file)",
        "owner",
        "Download the zone file below: names end with a dot, long TXT "
        "values are already split into 255-character strings.",
    ),
]

TYPE_NOTES = {
    "MX": "Priority goes in its own field in most panels.",
    "SRV": "Priority, weight, port and target are separate fields in most panels.",
    "CNAME": "Target ends with a dot only in zone files.",
    "TXT": "Paste without surrounding quotes unless the panel asks for them.",
}


@register.simple_tag
def dns_rows(domain, records=None):
    """The rows (record + latest status) for the records table."""
    records = records if records is not None else domain_records(domain)
    check = selectors.dns_check_latest(domain=domain) if domain.pk else None
    return selectors.record_rows(records=records, check=check)


@register.simple_tag
def dns_latest_check(domain):
    return selectors.dns_check_latest(domain=domain) if domain.pk else None


@register.simple_tag
def dns_panel_notes():
    return PANEL_NOTES


@register.filter
def dns_type_note(rtype):
    return TYPE_NOTES.get(rtype, "")


@register.filter
def dns_long(value, size=255):
    return len(value or "") > int(size)


@register.simple_tag
def dns_open_alerts(organization):
    """Open DNS regressions of the organization (for a portal-wide banner)."""
    return list(selectors.dns_regression_list(organization=organization)[:5])
