"""Sign-in throttling that outsiders cannot turn into a lock-out; CSP with nonces; HSTS; proxy headers."""

import re

import pytest
from django.test import Client, override_settings

from mailherd.core.actors import client_ip
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def sign_in(client: Client, email: str, password: str, address: str):
    return client.post(
        "/accounts/login/", {"login": email, "password": password}, REMOTE_ADDR=address
    )


def test_an_outsider_cannot_lock_the_real_user_out(db):
    victim = make_user("victim@acme.test")
    attacker = Client()
    for _ in range(12):
        sign_in(attacker, victim.email, "wrong-guess", "203.0.113.66")
    # the attacker's own address is throttled now ...
    refused = sign_in(attacker, victim.email, PASSWORD, "203.0.113.66")
    assert refused.status_code == 200 and b"Too many failed login attempts" in refused.content
    # ... but the real user, from their address, signs in with the right password
    response = sign_in(Client(), victim.email, PASSWORD, "198.51.100.7")
    assert response.status_code == 302 and response["Location"] == "/portal/"


def test_guessing_one_account_from_one_address_is_throttled(db):
    make_user("target@acme.test")
    attacker = Client()
    for _ in range(5):
        sign_in(attacker, "target@acme.test", "wrong-guess", "203.0.113.9")
    response = sign_in(attacker, "target@acme.test", PASSWORD, "203.0.113.9")
    assert b"Too many failed login attempts" in response.content


def test_pages_carry_a_csp_with_a_nonce_on_inline_scripts(client, tenants):
    tenants.acme.plan.features = [*tenants.acme.plan.features, "dns_autosetup"]
    tenants.acme.plan.save()  # the DNS providers page has an inline script
    client.force_login(tenants.alice)
    response = client.get(f"/o/{tenants.acme.slug}/dns-providers/")
    policy = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert "script-src 'self' 'nonce-" in policy and "object-src 'none'" in policy
    html = response.content.decode()
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline and all(f'nonce="{nonce}"' in attrs for attrs in inline)
    # every page, signed out too
    assert "Content-Security-Policy" in Client().get("/accounts/login/")


def test_hsts_only_over_https(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000  # as settings.py sets it for an https SITE_URL
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    secure = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in client.get("/accounts/login/")


def test_settings_turn_hsts_on_for_an_https_site(monkeypatch):
    import importlib

    import mailherd.settings as project_settings

    monkeypatch.setenv("MAILHERD_SITE_URL", "https://mail.example.com")
    monkeypatch.setenv("MAILHERD_TRUSTED_PROXY_SCHEME_HEADER", "X-Forwarded-Proto")
    try:
        reloaded = importlib.reload(project_settings)
        assert reloaded.SECURE_HSTS_SECONDS >= 31536000
        assert reloaded.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    finally:
        monkeypatch.delenv("MAILHERD_SITE_URL")
        monkeypatch.delenv("MAILHERD_TRUSTED_PROXY_SCHEME_HEADER")
        importlib.reload(project_settings)


def test_the_client_address_comes_from_the_trusted_proxy_header_only(rf):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    assert client_ip(request) == "10.0.0.2"  # no proxy configured: the header is ignored
    with override_settings(MAILHERD_TRUSTED_PROXY_HEADER="X-Forwarded-For"):
        # the proxy appended what it saw; the forged left entry is ignored
        assert client_ip(request) == "198.51.100.7"
        with override_settings(MAILHERD_TRUSTED_PROXY_COUNT=2):
            assert client_ip(request) == "6.6.6.6"
        garbage = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-ip")
        assert client_ip(garbage) == "10.0.0.2"
