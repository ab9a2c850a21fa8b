"""DKIM key rotation with no moment where the key Mailcow signs with is not in DNS: the new record
first, the switch once it resolves (PowerDNS), the old record kept for the overlap, then an email
that it may go; by hand through the portal and the API, or on the operator's schedule."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.core.errors import Conflict
from mailherd.dns.records import KEY_DKIM, KEY_DKIM_NEXT, KEY_DKIM_PREVIOUS, domain_records
from mailherd.dns.services import domain_check
from mailherd.hosting.dkim import dkim_txt_public_b64
from mailherd.hosting.models import DkimRotation, Domain
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services.dkim_rotation import (
    dkim_key_bits,
    dkim_rotation_cancel,
    dkim_rotation_start,
    dkim_rotations_advance,
)
from mailherd.mailcow.models import MailServer
from mailherd.mailcow.services import client_for
from tests.dns.conftest import publish

pytestmark = pytest.mark.django_db


def _signing(domain) -> tuple[str, str]:
    """(selector, public key) Mailcow signs the domain's mail with."""
    key = client_for(MailServer.objects.get()).get_dkim(domain.name)
    return key.selector, key.public_key


def _statuses(domain) -> dict[str, str]:
    return {r.record.key: r.status for r in domain_check(domain=domain)}


def test_a_rotation_never_leaves_the_signing_key_unpublished(
    make_domain, server_dns, tenants, settings
):
    domain = make_domain("rotate.test")
    publish(server_dns, domain_records(domain), zone="rotate.test")
    old_selector, old_key = _signing(domain)
    assert _statuses(domain)[KEY_DKIM] == "ok"

    rotation = dkim_rotation_start(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="rotate.test"
    )
    assert dkim_key_bits(rotation.new_private_key) == settings.MAILHERD_DKIM_KEY_BITS
    records = {r.key: r for r in domain_records(domain)}
    assert records[KEY_DKIM_NEXT].name == f"{rotation.new_selector}._domainkey.rotate.test"
    assert not records[KEY_DKIM_NEXT].optional
    # nothing published yet: the sweep waits, Mailcow keeps signing with the old key
    assert dkim_rotations_advance()["switched"] == 0
    assert _signing(domain) == (old_selector, old_key)

    # the customer publishes the new record (the old one stays)
    publish(server_dns, domain_records(domain), zone="rotate.test")
    assert _statuses(domain)[KEY_DKIM_NEXT] == "ok"
    assert dkim_rotations_advance()["switched"] == 1
    outbox_drain()
    domain.refresh_from_db()
    selector, key = _signing(domain)
    assert selector == rotation.new_selector and key != old_key
    assert dkim_txt_public_b64(domain.dkim_txt) == key  # the records page shows the key in use
    statuses = _statuses(domain)
    assert statuses[KEY_DKIM] == "ok"  # the new key, already published
    assert statuses[KEY_DKIM_PREVIOUS] == "ok"  # the old one, kept for mail still in flight
    previous = next(r for r in domain_records(domain) if r.key == KEY_DKIM_PREVIOUS)
    assert previous.optional and "then remove" in previous.purpose
    assert not mail.outbox

    # after the overlap the owners are told the old record may go
    later = timezone.now() + timedelta(days=8)
    assert dkim_rotations_advance(now=later)["finished"] == 1
    assert DkimRotation.objects.get().status == "done"
    assert [m.to for m in mail.outbox] == [[tenants.alice.email]]
    assert f"{old_selector}._domainkey.rotate.test" in mail.outbox[0].body
    assert KEY_DKIM_PREVIOUS not in {r.key for r in domain_records(domain)}


def test_one_change_at_a_time_and_cancel_before_the_switch(make_domain, tenants):
    make_domain("rotate.test")
    actor = Actor.for_user(tenants.alice)
    dkim_rotation_start(actor=actor, organization=tenants.acme, name="rotate.test")
    with pytest.raises(Conflict):
        dkim_rotation_start(actor=actor, organization=tenants.acme, name="rotate.test")
    dkim_rotation_cancel(actor=actor, organization=tenants.acme, name="rotate.test")
    assert KEY_DKIM_NEXT not in {r.key for r in domain_records(Domain.objects.get())}
    dkim_rotation_start(actor=actor, organization=tenants.acme, name="rotate.test")  # again


def test_the_operator_schedule_starts_rotations(make_domain, settings, tenants):
    settings.MAILHERD_DKIM_ROTATION_DAYS = 180
    make_domain("rotate.test")
    assert dkim_rotations_advance()["started"] == 0  # verified just now
    later = timezone.now() + timedelta(days=181)
    assert dkim_rotations_advance(now=later)["started"] == 1
    assert dkim_rotations_advance(now=later)["started"] == 0  # one is under way


def test_the_portal_and_the_api_start_and_show_it(make_domain, tenants, alice_client, client):
    make_domain("rotate.test")
    page = alice_client.get(f"/o/{tenants.acme.slug}/domains/rotate.test/")
    assert b"Rotate the DKIM key" in page.content
    response = alice_client.post(f"/o/{tenants.acme.slug}/domains/rotate.test/dkim/rotate/")
    assert response.status_code == 302
    rotation = DkimRotation.objects.get()
    page = alice_client.get(f"/o/{tenants.acme.slug}/domains/rotate.test/")
    assert rotation.new_selector.encode() in page.content

    plan = tenants.acme.plan
    plan.features = sorted({*plan.features, "api"})
    plan.save(update_fields=["features"])
    _t, token = api_token_create(actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="t")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    body = client.get("/api/v1/domains/rotate.test/dkim", **auth).json()
    assert body["rotation"]["status"] == "publishing"
    assert body["rotation"]["record"]["name"] == f"{rotation.new_selector}._domainkey.rotate.test"
    assert client.post("/api/v1/domains/rotate.test/dkim/rotate", **auth).status_code == 409
    assert client.delete("/api/v1/domains/rotate.test/dkim/rotation", **auth).status_code == 204
    started = client.post("/api/v1/domains/rotate.test/dkim/rotate", **auth)
    assert started.status_code == 202 and started.json()["rotation"]["status"] == "publishing"


def test_an_outsider_cannot_rotate_another_organizations_key(make_domain, tenants, client):
    make_domain("rotate.test")
    client.force_login(tenants.bob)
    response = client.post(f"/o/{tenants.acme.slug}/domains/rotate.test/dkim/rotate/")
    assert response.status_code in (302, 403, 404)
    response = client.post(f"/o/{tenants.globex.slug}/domains/rotate.test/dkim/rotate/")
    assert response.status_code in (302, 404)
    assert not DkimRotation.objects.exists()


def _queries_for_the_scheduled_check() -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mailherd.dns.selectors import domains_due_for_check

    with CaptureQueriesContext(connection) as queries:
        for domain in domains_due_for_check(period=1, slot=0):
            domain_records(domain)
    return len(queries)


def test_the_scheduled_check_reads_rotations_for_all_domains_at_once(make_domain, tenants):
    """The records of every domain due for a check, one of them mid-rotation: the queries do not
    grow with the number of domains."""
    make_domain("one.test")
    rotating = make_domain("two.test")
    dkim_rotation_start(actor=Actor.for_user(tenants.alice), organization=tenants.acme, name=rotating.name)
    few = _queries_for_the_scheduled_check()
    for name in ("three.test", "four.test", "five.test"):
        make_domain(name, tenants.globex)
    assert _queries_for_the_scheduled_check() == few
    records = {d.name: domain_records(d) for d in Domain.objects.all()}
    assert any(r.key == KEY_DKIM_NEXT for r in records["two.test"])
    assert not any(r.key == KEY_DKIM_NEXT for r in records["one.test"])
