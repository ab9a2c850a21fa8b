"""The demo's Mailcow simulator keeps its state under var/: a restart finds its mailboxes again."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from mailherd.core.management.commands.demo import Command as DemoCommand
from mailherd.mailcow import demo
from mailherd.mailcow.client import MailcowClient
from mailherd.mailcow.models import MailServer
from tests.core.test_run import free_port

KEY = "STATE-FILE-KEY-0001"


def _start_sim(port: int, state_file) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mailherd",
            "mailcow_sim",
            "--port",
            str(port),
            "--api-key",
            KEY,
            "--state-file",
            str(state_file),
        ],
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_sim/state", timeout=1)
            return process
        except httpx.TransportError:
            assert process.poll() is None, process.communicate()[1]
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the simulator did not start")


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)


def test_mailboxes_and_their_passwords_survive_a_restart(tmp_path):
    port, state_file = free_port(), tmp_path / "demo-mailcow.state"
    sim = _start_sim(port, state_file)
    try:
        client = MailcowClient(f"http://127.0.0.1:{port}", KEY)
        client.add_domain(
            "acme-demo.test",
            quota_mib=2048,
            max_mailbox_quota_mib=1024,
            default_mailbox_quota_mib=100,
        )
        client.add_mailbox("alice@acme-demo.test", password="Alice-pass-123", quota_mib=100)
    finally:
        _stop(sim)
    sim = _start_sim(port, state_file)
    try:
        client = MailcowClient(f"http://127.0.0.1:{port}", KEY)
        assert [m.address for m in client.list_mailboxes("acme-demo.test")] == [
            "alice@acme-demo.test"
        ]
        login = httpx.post(
            f"http://127.0.0.1:{port}/_sim/login",
            json={"username": "alice@acme-demo.test", "password": "Alice-pass-123"},
        ).json()
        assert login["ok"]
        # a change made after the restart is kept too, even without a clean stop
        client.add_mailbox("bob@acme-demo.test", password="Bob-pass-1234", quota_mib=100)
        time.sleep(2.5)  # saved about once a second
    finally:
        sim.kill()
        sim.wait()
    sim = _start_sim(port, state_file)
    try:
        client = MailcowClient(f"http://127.0.0.1:{port}", KEY)
        assert len(client.list_mailboxes("acme-demo.test")) == 2
    finally:
        _stop(sim)


@pytest.mark.django_db
def test_the_demo_uses_a_free_port_and_says_so_when_its_ports_are_taken(
    tmp_path, settings, monkeypatch
):
    settings.VAR_DIR = tmp_path
    with socket.socket() as taken_sim, socket.socket() as taken_web:
        taken_sim.bind(("127.0.0.1", 0))
        taken_sim.listen()
        taken_web.bind(("127.0.0.1", 0))
        taken_web.listen()
        monkeypatch.setattr(demo, "DEMO_SIM_PORT", taken_sim.getsockname()[1])
        out = _Out()
        command = demo.demo_simulator_processes(stdout=out)["mailcow-sim"]
        port = int(command[command.index("--port") + 1])
        assert port != taken_sim.getsockname()[1]
        assert f"port {taken_sim.getsockname()[1]} is in use" in out.text
        assert (
            MailServer.objects.get(name=demo.DEMO_SERVER_NAME).api_url == f"http://127.0.0.1:{port}"
        )
        assert command[command.index("--state-file") + 1] == str(tmp_path / "demo-mailcow.state")

        options = {"host": "127.0.0.1", "port": taken_web.getsockname()[1], "mcp_port": None}
        web = DemoCommand(stdout=out)
        web.choose_ports(options)
        assert options["port"] != taken_web.getsockname()[1]
        assert f"the demo serves on port {options['port']}" in out.text


class _Out:
    text = ""

    def write(self, line: str) -> None:
        self.text += line + "\n"
