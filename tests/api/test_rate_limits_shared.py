"""Rate limits hold across every web process, and wrong bearer tokens are throttled per address."""

import os
import subprocess
import sys

import pytest

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor

# One web process of `mailherd run`: counts how many of its requests the token's limit lets through.
WEB_PROCESS = """
import sys
from types import SimpleNamespace
import django
django.setup()
from mailherd.api.v1 import TokenRateThrottle
throttle = TokenRateThrottle()
request = SimpleNamespace(auth=SimpleNamespace(pk=7), META={}, headers={})
sys.stdin.readline()  # start together
print(sum(throttle.allow_request(request) for _ in range(int(sys.argv[1]))))
"""


def test_two_web_processes_share_one_token_limit(tmp_path):
    environment = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    environment.update(
        MAILHERD_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="mailherd.settings",
        MAILHERD_API_RATE="40/m",
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WEB_PROCESS, "35"],
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    results = [process.communicate(timeout=120) for process in processes]
    for process, (_out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
    # 70 requests against a limit of 40: exactly 40 get through, whichever process served them
    assert sum(int(out) for out, _err in results) == 40


@pytest.mark.django_db
def test_a_flood_of_wrong_tokens_gets_429_per_address(client, tenants, settings):
    settings.MAILHERD_API_AUTH_FAILURE_RATE = "20/m"
    _token, good = api_token_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="t"
    )
    statuses = [
        client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer mh_guess{n}_{'x' * 30}").status_code
        for n in range(25)
    ]
    assert statuses[:20] == [401] * 20
    assert statuses[20:] == [429] * 5
    refused = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {good}")
    assert refused.status_code == 429  # no token is checked from that address for now
    assert refused.json()["code"] == "rate_limited"
    assert "wrong API tokens" in refused.json()["message"]
    assert int(refused["Retry-After"]) >= 1
    # another address is not affected
    other = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {good}", REMOTE_ADDR="192.0.2.7")
    assert other.status_code == 200
