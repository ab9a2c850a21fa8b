"""Report files built in the tests: DMARC aggregate XML (RFC 7489 Appendix C) and TLS JSON (RFC 8460)."""

import gzip
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from xml.sax.saxutils import escape


@dataclass
class Row:
    ip: str
    count: int
    spf: bool = True  # aligned SPF pass
    dkim: bool = True  # aligned DKIM pass


def aggregate_xml(
    *,
    domain: str,
    rows: list[Row],
    day: date,
    reporter: str = "google.com",
    report_id: str | None = None,
    policy: str = "none",
) -> bytes:
    """A report as the RFC 7489 schema (Appendix C) has it: one <record> per row."""
    begin = int(datetime.combine(day, time(0), tzinfo=UTC).timestamp())
    end = begin + 86399
    report_id = report_id or f"{reporter}-{domain}-{day.isoformat()}"
    records = []
    for row in rows:
        spf = "pass" if row.spf else "fail"
        dkim = "pass" if row.dkim else "fail"
        records.append(f"""
  <record>
    <row>
      <source_ip>{row.ip}</source_ip>
      <count>{row.count}</count>
      <policy_evaluated><disposition>none</disposition><dkim>{dkim}</dkim><spf>{spf}</spf></policy_evaluated>
    </row>
    <identifiers><header_from>{domain}</header_from><envelope_from>{domain}</envelope_from></identifiers>
    <auth_results>
      <dkim><domain>{domain if row.dkim else "other.example"}</domain><selector>dkim</selector><result>{dkim}</result></dkim>
      <spf><domain>{domain}</domain><scope>mfrom</scope><result>{spf}</result></spf>
    </auth_results>
  </record>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <version>1.0</version>
  <report_metadata>
    <org_name>{escape(reporter)}</org_name>
    <email>noreply-dmarc@{escape(reporter)}</email>
    <report_id>{escape(report_id)}</report_id>
    <date_range><begin>{begin}</begin><end>{end}</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>{policy}</p><sp>{policy}</sp><pct>100</pct>
  </policy_published>{"".join(records)}
</feedback>
""".encode()


def tls_json(
    *,
    domain: str,
    day: date,
    successful: int,
    failed: int,
    reporter: str = "Google Inc.",
    report_id: str | None = None,
    result_type: str = "certificate-expired",
) -> bytes:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    details = []
    if failed:
        details.append(
            {
                "result-type": result_type,
                "sending-mta-ip": "203.0.113.9",
                "receiving-mx-hostname": f"mx.{domain}",
                "failed-session-count": failed,
            }
        )
    return json.dumps(
        {
            "organization-name": reporter,
            "date-range": {
                "start-datetime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end-datetime": (start + timedelta(seconds=86399)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "contact-info": "smtp-tls-reporting@example.com",
            "report-id": report_id or f"{day.isoformat()}_{domain}",
            "policies": [
                {
                    "policy": {
                        "policy-type": "sts",
                        "policy-string": ["version: STSv1", "mode: enforce"],
                        "policy-domain": domain,
                        "mx-host": [f"mx.{domain}"],
                    },
                    "summary": {
                        "total-successful-session-count": successful,
                        "total-failure-session-count": failed,
                    },
                    "failure-details": details,
                }
            ],
        }
    ).encode()


def zipped(data: bytes, name: str = "report.xml") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)


XML_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE feedback [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
 <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
]>
<feedback><report_metadata><org_name>&h;</org_name></report_metadata></feedback>
"""

WRONG_SCHEMA = b"""<?xml version="1.0"?>
<feedback><report_metadata><org_name>x</org_name></report_metadata><something_else/></feedback>
"""


def broken_zip() -> bytes:
    good = zipped(b"<feedback/>" * 1000)
    return good[:40] + b"\x00" * 50 + good[90:]


def fifty_megabytes() -> bytes:
    return b"<feedback>" + b" " * (50 * 1024 * 1024) + b"</feedback>"
