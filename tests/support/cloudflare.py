"""A local stand-in for Cloudflare's DNS API v4 that checks each request against the documentation.

Documented at developers.cloudflare.com/api/resources/dns/subresources/records/ and
.../resources/zones/: bearer token, JSON bodies, the `{"success", "errors", "messages",
"result", "result_info"}` envelope. Record bodies are checked per type as the API wants them:

- MX: `content` is a host name (no priority inside), `priority` a number 0–65535;
- SRV: no `content`; `data` with numeric `priority`, `weight`, `port` and a host `target`;
- CNAME: `content` a host name; TXT: `content` the text (at most 2048 characters);
- `name` fully qualified inside the zone; `ttl` 1 (automatic) or 60–86400.

A request that breaks the documented form answers 400 with Cloudflare's error envelope and is
recorded in `violations`, so a test can assert there were none.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$", re.I)
TYPES = {"A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA", "NS", "PTR"}


class CloudflareStandIn:
    def __init__(self, token: str = "cf-test-token", per_page_cap: int = 100):
        self.token = token
        self.per_page_cap = per_page_cap
        self.zones: dict[str, str] = {}  # id → name
        self.records: dict[str, dict] = {}  # id → record
        self.requests: list[tuple[str, str, dict | None]] = []
        self.violations: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/client/v4"

    def start(self) -> CloudflareStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_zone(self, name: str) -> str:
        zone_id = uuid.uuid4().hex
        self.zones[zone_id] = name
        return zone_id

    def add_record(self, zone_id: str, **record) -> str:
        record_id = uuid.uuid4().hex
        self.records[record_id] = {"id": record_id, "zone_id": zone_id, "ttl": 1, **record}
        return record_id

    def zone_records(self, zone_id: str) -> list[dict]:
        return [r for r in self.records.values() if r["zone_id"] == zone_id]

    # --- checks ------------------------------------------------------------------------------

    def check_record(self, zone_name: str, body: dict) -> list[str]:
        problems = []
        rtype = body.get("type")
        name = str(body.get("name", ""))
        if rtype not in TYPES:
            problems.append(f"type {rtype!r} is not a DNS record type")
        if not (name == zone_name or name.endswith("." + zone_name)):
            problems.append(f"name {name!r} is not inside zone {zone_name}")
        ttl = body.get("ttl", 1)
        if not isinstance(ttl, int) or not (ttl == 1 or 60 <= ttl <= 86400):
            problems.append(f"ttl {ttl!r} must be 1 (automatic) or 60-86400")
        content = body.get("content")
        if rtype == "MX":
            if not isinstance(content, str) or not HOST.match(content.rstrip(".")):
                problems.append(f"MX content {content!r} must be a host name (priority apart)")
            priority = body.get("priority")
            if not isinstance(priority, int) or not 0 <= priority <= 65535:
                problems.append(f"MX priority {priority!r} must be a number 0-65535")
        elif rtype == "SRV":
            data = body.get("data")
            if content is not None:
                problems.append("SRV takes its fields in `data`, not in `content`")
            if not isinstance(data, dict):
                problems.append("SRV needs `data` with priority, weight, port and target")
            else:
                for field in ("priority", "weight", "port"):
                    if not isinstance(data.get(field), int):
                        problems.append(f"SRV data.{field} {data.get(field)!r} must be a number")
                target = data.get("target")
                if not isinstance(target, str) or not (
                    target == "." or HOST.match(target.rstrip("."))
                ):
                    problems.append(f"SRV data.target {target!r} must be a host name")
        elif rtype == "CNAME":
            if not isinstance(content, str) or not HOST.match(content.rstrip(".")):
                problems.append(f"CNAME content {content!r} must be a host name")
        elif rtype == "TXT" and (
            not isinstance(content, str) or not content or len(content) > 2048
        ):
            problems.append("TXT content must be text of 1-2048 characters")
        return problems

    # --- HTTP --------------------------------------------------------------------------------

    def _handler(self):
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, code: int, message: str) -> None:
                self._send(
                    status,
                    {
                        "success": False,
                        "errors": [{"code": code, "message": message}],
                        "messages": [],
                        "result": None,
                    },
                )

            def _ok(self, result, info: dict | None = None) -> None:
                body = {"success": True, "errors": [], "messages": [], "result": result}
                if info is not None:
                    body["result_info"] = info
                self._send(200, body)

            def _handle(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                body = None
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    raw = self.rfile.read(length)
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        stand_in.violations.append(f"{method} {parts.path}: body is not JSON")
                        return self._error(400, 6007, "Malformed JSON in request body")
                    if "application/json" not in (self.headers.get("Content-Type") or ""):
                        stand_in.violations.append(f"{method} {parts.path}: no JSON content type")
                stand_in.requests.append((method, parts.path, body))
                if self.headers.get("Authorization") != f"Bearer {stand_in.token}":
                    return self._error(403, 10000, "Authentication error")
                path = parts.path.removeprefix("/client/v4")
                match = re.fullmatch(
                    r"/zones(?:/([0-9a-f]+)(/dns_records(?:/([0-9a-f]+))?)?)?", path
                )
                if not match:
                    stand_in.violations.append(f"{method} {path}: not a documented path")
                    return self._error(404, 7003, "No route for that URI")
                zone_id, records, record_id = match.groups()
                if zone_id is None:
                    if method != "GET":
                        return self._error(405, 10405, "Method not allowed")
                    zones = [
                        {"id": i, "name": n, "status": "active"}
                        for i, n in stand_in.zones.items()
                        if "name" not in query or query["name"] == n
                    ]
                    return self._ok(
                        zones,
                        {
                            "page": 1,
                            "per_page": 50,
                            "count": len(zones),
                            "total_count": len(zones),
                            "total_pages": 1,
                        },
                    )
                if zone_id not in stand_in.zones:
                    return self._error(404, 7003, "Could not route to /zones/…: not found")
                zone_name = stand_in.zones[zone_id]
                if not records:
                    return self._ok({"id": zone_id, "name": zone_name, "status": "active"})
                if record_id is None and method == "GET":
                    per_page = int(query.get("per_page", 100))
                    if per_page > stand_in.per_page_cap:
                        stand_in.violations.append(f"per_page {per_page} over the documented cap")
                    page = int(query.get("page", 1))
                    found = [
                        r
                        for r in stand_in.zone_records(zone_id)
                        if ("type" not in query or r["type"] == query["type"])
                        and ("name" not in query or r["name"] == query["name"])
                    ]
                    chunk = found[(page - 1) * per_page : page * per_page]
                    pages = max(1, -(-len(found) // per_page))
                    out = [{k: v for k, v in r.items() if k != "zone_id"} for r in chunk]
                    return self._ok(
                        out,
                        {
                            "page": page,
                            "per_page": per_page,
                            "count": len(chunk),
                            "total_count": len(found),
                            "total_pages": pages,
                        },
                    )
                if record_id is None and method == "POST":
                    problems = stand_in.check_record(zone_name, body or {})
                    if problems:
                        stand_in.violations.extend(problems)
                        return self._error(400, 9005, "; ".join(problems))
                    record = dict(body)
                    record["name"] = record["name"].rstrip(".").lower()
                    if record["type"] == "SRV":
                        data = record["data"]
                        record["priority"] = data["priority"]
                        record["content"] = f"{data['weight']} {data['port']} {data['target']}"
                    new_id = stand_in.add_record(zone_id, **record)
                    return self._ok(
                        {k: v for k, v in stand_in.records[new_id].items() if k != "zone_id"}
                    )
                if record_id is not None and method == "DELETE":
                    record = stand_in.records.get(record_id)
                    if record is None or record["zone_id"] != zone_id:
                        return self._error(404, 81044, "Record does not exist.")
                    del stand_in.records[record_id]
                    return self._ok({"id": record_id})
                stand_in.violations.append(f"{method} {path}: not used this way")
                return self._error(405, 10405, "Method not allowed")

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_DELETE(self):
                self._handle("DELETE")

            def do_PUT(self):
                self._handle("PUT")

            def do_PATCH(self):
                self._handle("PATCH")

        return Handler
