"""Shared fixtures. Data is set up through the services, as a user would create it.

The "outsider" pair (alice in Acme, bob in Globex) is reused by every app's
tests to prove that one organization never sees another's objects.
"""

from dataclasses import dataclass

import pytest
from allauth.account.models import EmailAddress

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.tenancy.models import Membership, Organization, User
from mailherd.tenancy.services import organization_create

# Session fixtures shared by every suite, registered once so each runs once per process:
# Chromium (Playwright allows one instance), the Mailcow simulator, PowerDNS.
pytest_plugins = [
    "tests.support.browser",
    "mailherd.mailcow.sim.testing",
    "tests.support.powerdns",
    "tests.support.dovecot",
]

PASSWORD = "correct-horse-battery-staple"


def pytest_collection_modifyitems(items):
    """Every transactional test restores the migrated rows after it (serialized_rollback).

    A transactional test without it flushes the tables and lets post_migrate create the content
    types again under new ids; a later test with serialized_rollback then restores the old ids
    beside them and fails on duplicates, in whichever order the two happen to run.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and marker.kwargs.get("transaction") and "serialized_rollback" not in marker.kwargs:
            restoring = pytest.mark.django_db(*marker.args, **marker.kwargs, serialized_rollback=True)
            item.add_marker(restoring, append=False)


def make_user(email: str, *, password: str = PASSWORD, staff: bool = False) -> User:
    user = User.objects.create_user(email=email, password=password, is_staff=staff, is_superuser=staff)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def make_org(owner: User, name: str, plan: str = "starter") -> Organization:
    return organization_create(actor=Actor.for_user(owner), name=name, owner=owner, plan_slug=plan)


@pytest.fixture(autouse=True, scope="session")
def _cheap_bcrypt():
    """bcrypt at cost 4 in tests (cost 10 takes ~0.1-0.3 s a hash); tests/hosting/test_passwords.py checks 10."""
    import os

    from django.conf import settings

    os.environ["MAILHERD_BCRYPT_COST"] = "4"  # for the processes tests start
    settings.MAILHERD_BCRYPT_COST = 4
    settings.MAILHERD_DKIM_KEY_BITS = 1024  # DKIM keys Mailherd generates: 2048 in production
    yield


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Cached rows (branding, feature switches) must not outlive the test that wrote them."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _outbox_threads_stopped():
    """The outbox's apply threads hold database connections: let go of them after each test."""
    yield
    from mailherd.hosting.provisioning import outbox_threads_stop

    outbox_threads_stop()


@pytest.fixture(autouse=True)
def _seeded_plans(request):
    """Re-seed the plans when an earlier transactional test flushed the data migration's rows."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if marker is None and not names & {"db", "transactional_db", "live_server"}:
        return
    transactional = bool(names & {"transactional_db", "live_server"}) or bool(
        marker is not None and marker.kwargs.get("transaction", False)
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    import importlib

    from django.apps import apps

    from mailherd.plans.models import Plan

    if not Plan.objects.exists():
        importlib.import_module("mailherd.plans.migrations.0002_seed_plans").seed(apps, None)
        importlib.import_module("mailherd.plans.migrations.0003_rate_limits").seed_rate_limits(
            apps, None
        )


@dataclass
class Tenants:
    alice: User
    acme: Organization
    bob: User
    globex: Organization

    @property
    def alice_membership(self) -> Membership:
        return Membership.objects.get(user=self.alice, organization=self.acme)


@pytest.fixture
def tenants(db) -> Tenants:
    alice = make_user("alice@acme.test")
    bob = make_user("bob@globex.test")
    return Tenants(alice=alice, acme=make_org(alice, "Acme"), bob=bob, globex=make_org(bob, "Globex"))


@pytest.fixture
def alice_client(client, tenants):
    client.force_login(tenants.alice)
    return client


@pytest.fixture
def operator_user(db) -> User:
    return make_user("ops@operator.test", staff=True)


@pytest.fixture
def api(client, tenants):
    """Call the REST API as an Acme token: api("get", "/mailboxes") -> (status, JSON or None)."""
    token = api_token_create(actor=Actor.system(), organization=tenants.acme, name="t")[1]

    def call(method, path, body=None):
        response = getattr(client, method)(
            "/api/v1" + path,
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        return response.status_code, (response.json() if response.content else None)

    return call
