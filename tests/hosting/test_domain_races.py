"""Domains changing under a request: a check while the domain is removed, two claims at once."""

import threading

import pytest
from django.db import connection, connections
from django.test import Client

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.dns.models import DnsCheck
from mailherd.hosting.models import Domain
from mailherd.hosting.services.domains import domain_add, domain_delete
from tests.hosting.conftest import verified_domain


def _bearer(user, organization) -> dict:
    _token, plaintext = api_token_create(
        actor=Actor.for_user(user), organization=organization, name="race"
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}


@pytest.mark.django_db(transaction=True)
def test_a_check_while_the_domain_is_removed_is_a_404_not_a_500(
    tenants, mail_server, dns_nameserver, monkeypatch
):
    from mailherd.dns import checks

    verified_domain(tenants.acme, "gone.test")
    headers = _bearer(tenants.alice, tenants.acme)
    real = checks.check_records_sync

    def lookups_then_removed(records, *args, **kwargs):
        outcome = real(records, *args, **kwargs)
        # The DELETE completes while the check's lookups were under way.
        domain_delete(
            actor=Actor.system(), organization=tenants.acme, name="gone.test", confirm="gone.test"
        )
        return outcome

    monkeypatch.setattr(checks, "check_records_sync", lookups_then_removed)
    response = Client().post("/api/v1/domains/gone.test/check", **headers)
    assert response.status_code == 404, response.content[:300]
    assert response.json()["code"] == "not_found"
    assert not Domain.objects.filter(name="gone.test").exists()
    assert not DnsCheck.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_organizations_verifying_one_domain_at_once_one_wins_the_other_gets_409(
    tenants, mail_server, dns_nameserver, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them)")
    from mailherd.hosting.services import domains as domain_services

    name = "contested.test"
    acme_domain = domain_add(actor=Actor.system(), organization=tenants.acme, name=name)
    globex_domain = domain_add(actor=Actor.system(), organization=tenants.globex, name=name)
    dns_nameserver.create_zone(name)
    dns_nameserver.set_record(
        name,
        acme_domain.verification_record_name,
        "TXT",
        [
            acme_domain.verification_record_value,
            globex_domain.verification_record_value,
        ],
    )
    # Both requests pass the "taken elsewhere?" check before either writes: the real race.
    barrier = threading.Barrier(2, timeout=10)
    real_place = domain_services.place_organization

    def place_after_both_checked(organization):
        barrier.wait()
        return real_place(organization)

    monkeypatch.setattr(domain_services, "place_organization", place_after_both_checked)
    answers = {}

    def verify(label, user, organization):
        try:
            response = Client().post(
                f"/api/v1/domains/{name}/verify", **_bearer(user, organization)
            )
            answers[label] = (response.status_code, response["Content-Type"], response.json())
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=verify, args=("acme", tenants.alice, tenants.acme)),
        threading.Thread(target=verify, args=("globex", tenants.bob, tenants.globex)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(status for status, _type, _body in answers.values())
    assert statuses == [200, 409], answers
    loser = next(body for status, _type, body in answers.values() if status == 409)
    assert loser["code"] == "domain_taken" and "another organization" in loser["message"]
    assert Domain.objects.filter(name=name, verified_at__isnull=False).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["", "?confirm=", "?confirm=other.test"])
def test_deleting_a_domain_through_the_api_needs_its_name_as_confirm(
    tenants, mail_server, client, query
):
    verified_domain(tenants.acme, "keep.test")
    headers = _bearer(tenants.alice, tenants.acme)
    response = client.delete(f"/api/v1/domains/keep.test{query}", **headers)
    assert response.status_code == 422, response.content[:200]
    body = response.json()
    assert body["code"] == "confirmation_required" and body["field"] == "confirm"
    assert "?confirm=keep.test" in body["message"]
    assert Domain.objects.filter(name="keep.test").exists()
    response = client.delete("/api/v1/domains/keep.test?confirm=keep.test", **headers)
    assert response.status_code == 204
    assert not Domain.objects.filter(name="keep.test").exists()
