"""Turn a received report file into plain data, or refuse it with a reason a person understands.

Pure (no database). Accepts plain XML/JSON, gzip and zip. The XML and JSON are read by
parsedmarc's parsers, offline (no lookups, its bundled maps only): they refuse DOCTYPEs (so no
entity expansion or XML bombs) and check the RFC 7489 / RFC 8460 required fields. We add the size
limits (before and after decompression) and strictness: XML that is not well-formed is refused
rather than "recovered" into a partial report.
"""

import io
import json
import logging
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

logger = logging.getLogger(__name__)

ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"


class ReportRefused(Exception):
    """The file is not a report we can take; `reason` says why in plain words."""

    def __init__(self, reason: str, code: str = "report_invalid"):
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass
class ParsedRecord:
    day: date
    source_ip: str
    messages: int
    spf_aligned: bool
    dkim_aligned: bool
    dmarc_pass: bool
    disposition: str = ""
    header_from: str = ""
    envelope_from: str = ""
    dkim_domains: str = ""


@dataclass
class ParsedReport:
    kind: str  # "aggregate" or "tls"
    reporter: str
    reporter_email: str
    report_id: str
    begin: datetime
    end: datetime
    domain: str  # the domain the report is about (policy_published / policy-domain)
    policy_published: dict = field(default_factory=dict)
    records: list[ParsedRecord] = field(default_factory=list)
    details: list[dict] = field(default_factory=list)  # TLS policies
    messages: int = 0
    failed: int = 0


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def too_large_reason(size: int, max_bytes: int) -> str:
    return f"The file is {_megabytes(size)}; reports over {_megabytes(max_bytes)} are refused."


def unpack(data: bytes, *, max_bytes: int, max_unpacked_bytes: int) -> bytes:
    """The report document inside `data` (zip, gzip or plain), bounded in size."""
    if len(data) > max_bytes:
        raise ReportRefused(too_large_reason(len(data), max_bytes), code="report_too_large")
    if not data.strip():
        raise ReportRefused("The file is empty.")
    too_big = ReportRefused(
        f"The report unpacks to more than {_megabytes(max_unpacked_bytes)}; it is refused.",
        code="report_too_large",
    )
    if data.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                if len(members) != 1:
                    raise ReportRefused(
                        f"The zip file holds {len(members)} files; a report zip holds exactly one."
                    )
                with archive.open(members[0]) as member:
                    content = member.read(max_unpacked_bytes + 1)
        except ReportRefused:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            raise ReportRefused(
                f"The zip file is damaged or unreadable ({exc}).", code="report_unreadable"
            )
        if len(content) > max_unpacked_bytes:
            raise too_big
        return content
    if data.startswith(GZIP_MAGIC):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            content = inflater.decompress(data, max_unpacked_bytes + 1)
        except zlib.error as exc:
            raise ReportRefused(f"The gzip file is damaged ({exc}).", code="report_unreadable")
        if len(content) > max_unpacked_bytes or inflater.unconsumed_tail:
            raise too_big
        if not inflater.eof:
            raise ReportRefused("The gzip file is cut short.", code="report_unreadable")
        return content
    return data


def _utc(value: str) -> datetime:
    # parsedmarc writes report times as naive local time: astimezone() reads them back as such.
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").astimezone(UTC)


def _iso(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        raise ReportRefused(f"The report's date {value!r} is not an RFC 3339 date-time.")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_report(data: bytes, *, max_bytes: int, max_unpacked_bytes: int) -> ParsedReport:
    document = unpack(data, max_bytes=max_bytes, max_unpacked_bytes=max_unpacked_bytes)
    head = document.lstrip()[:1]
    if head == b"{":
        return _parse_tls(document)
    if head == b"<":
        return _parse_aggregate(document)
    raise ReportRefused(
        "This is not a DMARC aggregate report (XML) or a TLS report (JSON), plain, zip or gzip.",
        code="report_unreadable",
    )


def _parse_aggregate(document: bytes) -> ParsedReport:
    import parsedmarc  # imported on first use: it loads its maps, which takes a moment

    try:
        text = document.decode("utf-8")
    except UnicodeDecodeError:
        raise ReportRefused("The XML is not UTF-8 text.", code="report_invalid")
    try:
        report = parsedmarc.parse_aggregate_report_xml(
            text, offline=True, always_use_local_files=True
        )
    except parsedmarc.ParserError as exc:
        raise ReportRefused(f"Not a valid DMARC aggregate report (RFC 7489): {exc}")
    errors = report["report_metadata"].get("errors") or []
    broken = [e for e in errors if str(e).startswith("Invalid XML")]
    if broken:
        raise ReportRefused(
            f"The XML is not well-formed: {broken[0].removeprefix('Invalid XML: ')}"
        )
    metadata, policy = report["report_metadata"], report["policy_published"]
    records = []
    for row in report["records"]:
        try:
            day = _utc(row["interval_begin"]).date()
            count = int(row["count"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportRefused(f"A record of the report is incomplete ({exc}).")
        if count < 0:
            raise ReportRefused("A record of the report counts fewer than zero messages.")
        alignment = row["alignment"]
        records.append(
            ParsedRecord(
                day=day,
                source_ip=row["source"]["ip_address"],
                messages=count,
                spf_aligned=bool(alignment["spf"]),
                dkim_aligned=bool(alignment["dkim"]),
                dmarc_pass=bool(alignment["dmarc"]),
                disposition=str(row["policy_evaluated"].get("disposition") or "")[:20],
                header_from=str(row["identifiers"].get("header_from") or "")[:253],
                envelope_from=str(row["identifiers"].get("envelope_from") or "")[:253],
                dkim_domains=" ".join(
                    str(d.get("domain") or "") for d in row["auth_results"].get("dkim", [])
                )[:500],
            )
        )
    if not records:
        raise ReportRefused("The report has no records (RFC 7489 requires at least one).")
    total = sum(r.messages for r in records)
    return ParsedReport(
        kind="aggregate",
        reporter=str(metadata["org_name"] or "")[:255],
        reporter_email=str(metadata.get("org_email") or "")[:320],
        report_id=str(metadata["report_id"] or "")[:255],
        begin=_utc(metadata["begin_date"]),
        end=_utc(metadata["end_date"]),
        domain=str(policy["domain"] or "").lower().rstrip("."),
        policy_published={k: v for k, v in policy.items() if v is not None},
        records=records,
        messages=total,
        failed=sum(r.messages for r in records if not r.dmarc_pass),
    )


def _parse_tls(document: bytes) -> ParsedReport:
    import parsedmarc

    try:
        json.loads(document)
    except (ValueError, RecursionError) as exc:
        raise ReportRefused(f"The JSON is not well-formed: {exc}")
    try:
        report = parsedmarc.parse_smtp_tls_report_json(document.decode("utf-8"))
    except (parsedmarc.ParserError, UnicodeDecodeError) as exc:
        raise ReportRefused(f"Not a valid SMTP TLS report (RFC 8460): {exc}")
    policies = report["policies"]
    if not policies:
        raise ReportRefused("The TLS report has no policies (RFC 8460 requires at least one).")
    details = []
    for policy in policies:
        details.append(
            {
                "policy_domain": str(policy["policy_domain"]).lower().rstrip("."),
                "policy_type": policy.get("policy_type"),
                "successful": int(policy.get("successful_session_count") or 0),
                "failed": int(policy.get("failed_session_count") or 0),
                "failure_details": policy.get("failure_details") or [],
            }
        )
    return ParsedReport(
        kind="tls",
        reporter=str(report["organization_name"])[:255],
        reporter_email=str(report.get("contact_info") or "")[:320],
        report_id=str(report["report_id"])[:255],
        begin=_iso(report["begin_date"]),
        end=_iso(report["end_date"]),
        domain=details[0]["policy_domain"],
        details=details,
        messages=sum(d["successful"] + d["failed"] for d in details),
        failed=sum(d["failed"] for d in details),
    )
