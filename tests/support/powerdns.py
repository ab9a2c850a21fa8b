"""A real authoritative DNS server (PowerDNS + SQLite) on a loopback port, with its HTTP API."""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

PDNS = "/usr/sbin/pdns_server"
SCHEMA = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"
API_KEY = "test-api-key"


def _free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PowerDNS:
    def __init__(self, directory: Path):
        self.directory = directory
        self.dns_port = _free_port(socket.SOCK_DGRAM)
        self.api_port = _free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}/api/v1/servers/localhost"
        self.process = None

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.dns_port}"

    def start(self) -> "PowerDNS":
        database = self.directory / "pdns.sqlite3"
        subprocess.run(["sqlite3", str(database)], stdin=open(SCHEMA), check=True)
        (self.directory / "pdns.conf").write_text(
            "\n".join([
                "launch=gsqlite3", f"gsqlite3-database={database}", "gsqlite3-dnssec=no",
                f"local-address=127.0.0.1:{self.dns_port}", f"socket-dir={self.directory}",
                "daemon=no", "guardian=no", "disable-syslog=yes", "loglevel=3",
                "webserver=yes", "webserver-address=127.0.0.1", f"webserver-port={self.api_port}",
                "webserver-allow-from=127.0.0.1", "api=yes", f"api-key={API_KEY}",
                "default-soa-content=ns1.example.test. hostmaster.@ 0 10800 3600 604800 3600",
                "query-cache-ttl=0", "negquery-cache-ttl=0", "cache-ttl=0", "zone-cache-refresh-interval=0",
                "security-poll-suffix=", "distributor-threads=2", "receiver-threads=1",
            ]) + "\n"
        )
        self.process = subprocess.Popen(
            [PDNS, f"--config-dir={self.directory}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                httpx.get(self.api_url, headers={"X-API-Key": API_KEY}, timeout=1).raise_for_status()
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("PowerDNS did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)

    def _api(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = httpx.request(method, self.api_url + path, headers={"X-API-Key": API_KEY}, timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def create_zone(self, zone: str) -> None:
        zone = zone.rstrip(".") + "."
        response = httpx.post(
            self.api_url + "/zones", headers={"X-API-Key": API_KEY}, timeout=10,
            json={"name": zone, "kind": "Native", "nameservers": [f"ns1.{zone}"]},
        )
        if response.status_code not in (201, 409):
            response.raise_for_status()

    def set_record(self, zone: str, name: str, rtype: str, contents: list[str], ttl: int = 60) -> None:
        """Replace the RRset; TXT contents are given unquoted and quoted here (split at 255)."""
        fqdn = name.rstrip(".") + "."
        records = []
        for content in contents:
            if rtype == "TXT":
                chunks = [content[i : i + 255] for i in range(0, len(content), 255)] or [""]
                content = " ".join(f'"{chunk}"' for chunk in chunks)
            records.append({"content": content, "disabled": False})
        self._api("PATCH", f"/zones/{zone.rstrip('.')}.", json={
            "rrsets": [{"name": fqdn, "type": rtype, "ttl": ttl, "changetype": "REPLACE", "records": records}]
        })

    def delete_record(self, name: str, rtype: str, zone: str) -> None:
        self._api("PATCH", f"/zones/{zone.rstrip('.')}.", json={
            "rrsets": [{"name": name.rstrip(".") + ".", "type": rtype, "changetype": "DELETE"}]
        })


@pytest.fixture(scope="session")
def powerdns(tmp_path_factory):
    if not (os.path.exists(PDNS) and shutil.which("sqlite3")):
        pytest.skip("PowerDNS is not installed (apt-get install pdns-server pdns-backend-sqlite3 sqlite3)")
    server = PowerDNS(tmp_path_factory.mktemp("pdns")).start()
    yield server
    server.stop()


@pytest.fixture
def dns_nameserver(powerdns, settings):
    """Point Mailherd's resolver at the test PowerDNS."""
    settings.MAILHERD_DNS_NAMESERVERS = [powerdns.nameserver]
    settings.MAILHERD_DNS_TIMEOUT = 2
    return powerdns
