"""The ownership TXT record customers publish carries the operator's brand or a neutral word."""

import pytest

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.hosting.services import domain_verify
from mailherd.operator.models import Branding
from mailherd.operator.selectors import branding_cache_clear

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_post(client, tenants):
    _token, plaintext = api_token_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="verify"
    )

    def post(path, body):
        response = client.post(
            "/api/v1" + path,
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {plaintext}",
        )
        return response.status_code, response.json()

    return post


def brand(**fields):
    Branding.objects.update_or_create(pk=1, defaults=fields)
    branding_cache_clear()


def test_unbranded_the_record_uses_a_neutral_word(api_post):
    status, domain = api_post("/domains", {"name": "neutral.test"})
    assert status == 201
    verification = domain["verification"]
    assert verification["name"] == "_domain-verify.neutral.test"
    assert verification["value"].startswith("domain-verify=")
    assert "mailherd" not in (verification["name"] + verification["value"]).lower()
    assert "mailherd" not in str(domain["records"]).lower()


def test_the_record_carries_the_product_name_or_the_chosen_word(api_post):
    brand(product_name="Nimbus Post")
    _status, domain = api_post("/domains", {"name": "nimbus.test"})
    assert domain["verification"]["name"] == "_nimbus-post-verify.nimbus.test"
    assert domain["verification"]["value"].startswith("nimbus-post-verify=")

    brand(product_name="Nimbus Post", verification_word="nimbus")
    _status, domain = api_post("/domains", {"name": "word.test"})
    assert domain["verification"]["name"] == "_nimbus-verify.word.test"


def test_a_domain_keeps_its_record_when_the_brand_changes(api_post, tenants, dns_nameserver):
    _status, before = api_post("/domains", {"name": "kept.test"})
    record = before["verification"]
    dns_nameserver.create_zone("kept.test")
    dns_nameserver.set_record("kept.test", record["name"], "TXT", [record["value"]])

    brand(product_name="Nimbus Post")
    status, after = api_post("/domains/kept.test/verify", {})
    assert status == 200 and after["verified"]
    assert after["verification"] == record


def test_the_api_docs_carry_the_brand(client, tenants):
    brand(product_name="Nimbus Post")
    assert client.get("/api/v1/openapi.json").json()["info"]["title"] == "Nimbus Post API"
    docs = client.get("/api/v1/docs").content.decode()
    assert "<title>Nimbus Post API</title>" in docs and "Mailherd" not in docs


def test_migrated_domains_keep_the_record_they_were_given(tenants):
    """Domains added before the brand decided the word were told `_mailherd-verify`."""
    import importlib

    from django.apps import apps

    from mailherd.hosting.services import domain_add

    domain = domain_add(actor=Actor.system(), organization=tenants.acme, name="legacy.test")
    migration = importlib.import_module("mailherd.hosting.migrations.0004_domain_verification_word")
    migration.keep_published_records(apps, None)
    domain.refresh_from_db()
    assert domain.verification_record_name == "_mailherd-verify.legacy.test"
    assert domain_verify  # the verify path reads the same property
