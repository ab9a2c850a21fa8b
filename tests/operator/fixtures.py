"""Fixtures shared by tests/operator and tests/notifications (imported by both conftests)."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core.cache import cache

from mailherd.operator.models import Branding
from mailherd.operator.selectors import branding_cache_clear
from tests.conftest import make_user


@pytest.fixture(autouse=True)
def _operator_urls_and_fresh_cache(settings):
    settings.ROOT_URLCONF = "tests.operator.urls"
    cache.clear()
    yield
    cache.clear()


def with_two_factor(user):
    TOTP.activate(user, generate_totp_secret())
    return user


def sign_in_with_two_factor(client, user):
    """As if this session had entered the TOTP code at sign-in (the real flow: test_sign_in.py)."""
    from mailherd.operator.services import TWO_FACTOR_SESSION_KEY

    client.force_login(user)
    session = client.session
    session[TWO_FACTOR_SESSION_KEY] = user.pk
    session.save()
    return client


@pytest.fixture
def ops_user(db):
    """An operator with TOTP set up: the only kind the back office lets in."""
    return with_two_factor(make_user("ops2fa@operator.test", staff=True))


@pytest.fixture
def ops_client(client, ops_user):
    return sign_in_with_two_factor(client, ops_user)


BRAND = {
    "product_name": "Nimbus Post",
    "tagline": "Mail for busy teams",
    "primary_color": "#0f766e",
    "primary_dark_color": "#115e59",
    "support_email": "help@nimbus.example",
    "support_url": "https://nimbus.example/help",
    "terms_url": "https://nimbus.example/terms",
    "privacy_url": "https://nimbus.example/privacy",
    "email_from_name": "Nimbus Post",
    "email_from_address": "hello@nimbus.example",
}


@pytest.fixture
def custom_brand(db):
    branding = Branding.objects.create(pk=1, **BRAND)
    branding_cache_clear()
    return branding
