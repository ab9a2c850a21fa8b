"""Mailbox passwords: hashed by Mailherd ({BLF-CRYPT}), only the hash kept and sent, hashes accepted when moving in."""

import base64
import hashlib

import pytest
from django.core.management import call_command
from django.db import transaction
from passlib.hash import argon2, sha512_crypt

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.hosting import passwords, services
from mailherd.hosting.models import Mailbox
from mailherd.hosting.passwords import (
    InvalidPasswordHash,
    clean_password_hash,
    hash_password,
    verify_password,
)
from mailherd.hosting.provisioning import outbox_drain
from tests.hosting.conftest import verified_domain

SYSTEM = Actor.system()


def ssha256(plaintext: str, salt: bytes = b"saltsalt") -> str:
    return (
        "{SSHA256}"
        + base64.b64encode(hashlib.sha256(plaintext.encode() + salt).digest() + salt).decode()
    )


def test_the_default_is_mailcows_blf_crypt_at_cost_10():
    hashed = hash_password("correct horse battery", cost=passwords.BCRYPT_COST)
    assert passwords.BCRYPT_COST == 10
    assert hashed.startswith("{BLF-CRYPT}$2y$10$") and len(hashed) == len("{BLF-CRYPT}") + 60
    assert verify_password("correct horse battery", hashed)
    assert not verify_password("correct horse batterY", hashed)
    assert clean_password_hash(hashed) == hashed


@pytest.mark.parametrize(
    "stored",
    [
        "{SHA512-CRYPT}"
        + sha512_crypt.using(rounds=5000).hash("moving-in-pass"),  # as Modoboa stores them
        "{ARGON2ID}" + argon2.using(type="ID", rounds=2, memory_cost=1024).hash("moving-in-pass"),
        ssha256("moving-in-pass"),
        hash_password("moving-in-pass"),
    ],
    ids=["sha512-crypt", "argon2id", "ssha256", "blf-crypt"],
)
def test_hashes_dovecot_accepts_are_well_formed_and_verify(stored):
    assert clean_password_hash(stored) == stored
    assert verify_password("moving-in-pass", stored)
    assert not verify_password("moving-in-pasS", stored)


@pytest.mark.parametrize(
    "value, says",
    [
        ("plain-password", "starts with its scheme"),
        ("{PLAIN}secret-password", "plaintext or too weak"),
        ("{BLF-CRYPT}$2y$10$tooshort", "not a well-formed {BLF-CRYPT}"),
        ("{SHA512-CRYPT}$6$salt$" + "a" * 20, "not a well-formed {SHA512-CRYPT}"),
        (
            "{SSHA256}" + base64.b64encode(b"x" * 32).decode(),
            "not a well-formed {SSHA256}",
        ),  # no salt
        ("{NOSUCH}abc", "not a scheme"),
        ("{BLF-CRYPT}$2y$10$" + "a" * 52 + "\x00", "characters or a length"),
    ],
)
def test_malformed_hashes_are_refused_in_plain_words(value, says):
    with pytest.raises(InvalidPasswordHash, match=says.replace("{", r"\{").replace("}", r"\}")):
        clean_password_hash(value)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_password_is_hashed_before_the_organization_lock(tenants, mail_server, monkeypatch):
    verified_domain(tenants.acme, "acme.test")
    seen = []
    real = passwords.hash_many

    def watching(plaintexts):
        seen.append(transaction.get_connection().in_atomic_block)
        return real(plaintexts)

    monkeypatch.setattr("mailherd.hosting.services.mailboxes.hash_many", watching)
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="a@acme.test", password="Strong-pass-123"
    )
    services.mailbox_update(
        actor=SYSTEM, organization=tenants.acme, address="a@acme.test", password="Other-pass-456"
    )
    assert seen == [False, False]  # no transaction (so no lock) open while bcrypt runs


@pytest.fixture
def api(client, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    _token, plaintext = api_token_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="t"
    )

    def call(method, path, json=None):
        response = getattr(client, method)(
            "/api/v1" + path,
            data=json,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {plaintext}",
        )
        return response.status_code, response.json() if response.content else None

    return call


@pytest.mark.django_db
def test_api_takes_a_password_hash_and_the_old_password_logs_in(api, sim):
    stored = "{SHA512-CRYPT}" + sha512_crypt.using(rounds=5000).hash("users-old-pass")
    status, body = api(
        "post", "/mailboxes", {"address": "moved@acme.test", "password_hash": stored}
    )
    assert status == 201, body
    assert body["password"] is None  # nothing generated, nothing to show
    outbox_drain()
    assert Mailbox.objects.get(address="moved@acme.test").password_hash == stored
    assert sim.login("moved@acme.test", "users-old-pass")

    # a later change by hash, too
    new = ssha256("users-new-pass")
    status, body = api("patch", "/mailboxes/moved@acme.test", {"password_hash": new})
    assert status == 200, body
    outbox_drain()
    assert sim.login("moved@acme.test", "users-new-pass") and not sim.login(
        "moved@acme.test", "users-old-pass"
    )


@pytest.mark.django_db
def test_api_refuses_a_malformed_hash_or_both_and_creates_nothing(api, sim):
    status, body = api(
        "post", "/mailboxes", {"address": "x@acme.test", "password_hash": "{BLF-CRYPT}nonsense"}
    )
    assert status == 422 and body["field"] == "password_hash" and "BLF-CRYPT" in body["message"]
    status, body = api(
        "post",
        "/mailboxes",
        {"address": "x@acme.test", "password": "Strong-pass-123", "password_hash": ssha256("a")},
    )
    assert status == 422 and body["field"] == "password_hash"
    assert not Mailbox.objects.filter(address="x@acme.test").exists()


@pytest.mark.django_db
def test_bulk_takes_password_hashes_item_by_item(api, sim):
    good = "{BLF-CRYPT}" + hash_password("bulk-user-pass")[len("{BLF-CRYPT}") :]
    status, body = api(
        "post",
        "/mailboxes/bulk",
        {
            "mailboxes": [
                {"address": "b1@acme.test", "password_hash": good},
                {"address": "b2@acme.test", "password_hash": "{SSHA256}short"},
                {"address": "b3@acme.test"},
            ]
        },
    )
    assert status == 200, body
    assert [r["result"] for r in body["results"]] == ["created", "refused", "created"]
    assert "{SSHA256}" in body["results"][1]["message"]
    assert (
        body["results"][0]["mailbox"]["password"] is None
        and body["results"][2]["mailbox"]["password"]
    )
    outbox_drain()
    assert sim.login("b1@acme.test", "bulk-user-pass")
    assert sim.login("b3@acme.test", body["results"][2]["mailbox"]["password"])


@pytest.mark.django_db
def test_csv_import_takes_a_password_hash_column(tenants, mail_server, sim, tmp_path, capsys):
    verified_domain(tenants.acme, "acme.test")
    stored = "{SHA512-CRYPT}" + sha512_crypt.using(rounds=5000).hash("csv-user-pass")
    path = tmp_path / "in.csv"
    path.write_text(f"address,password_hash\nc1@acme.test,{stored}\nc2@acme.test,{{MD5}}abc\n")
    call_command("import_mailboxes", "--org", "acme", str(path))
    out = capsys.readouterr().out
    assert (
        "1 mailboxes created, 1 refused" in out
        and "line 3: c2@acme.test: {MD5} is not accepted" in out
    )
    outbox_drain()
    assert sim.login("c1@acme.test", "csv-user-pass")
