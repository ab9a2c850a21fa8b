"""Domain names a customer claims: lookalikes refused as browsers judge them, nothing dropped."""

import pytest

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.hosting.models import Domain

pytestmark = pytest.mark.django_db


@pytest.fixture
def post_domain(client, tenants):
    _token, plaintext = api_token_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="names"
    )

    def post(name):
        response = client.post(
            "/api/v1/domains",
            {"name": name},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {plaintext}",
        )
        return response.status_code, response.json()

    return post


@pytest.mark.parametrize(
    "name, says",
    [
        ("\u0430pple.test", "mixes letters of different alphabets (Cyrillic and Latin)"),
        ("xn--pple-43d.test", "mixes letters of different alphabets"),  # the same, as punycode
        ("\u03c1aypal.test", "(Greek and Latin)"),
        ("\u0430\u0440\u0440\u04cf\u0435.test", "Cyrillic letters that look exactly like Latin"),
    ],
)
def test_lookalike_names_are_refused(post_domain, name, says):
    status, body = post_domain(name)
    assert status == 422 and body["code"] == "invalid_address", body
    assert says in body["message"] and body["field"] == "name"
    assert not Domain.objects.exists()


@pytest.mark.parametrize(
    "name, says",
    [
        ("ex\u200bample.test", "a zero-width space after “ex”"),
        ("exam\u00adple.test", "a soft hyphen after “exam”"),
        ("\ufeffexample.test", "a zero-width no-break space at the start"),
        ("exa\u200dmple.test", "a zero-width joiner"),
    ],
)
def test_invisible_characters_are_refused_not_dropped(post_domain, name, says):
    status, body = post_domain(name)
    assert status == 422 and says in body["message"], body
    assert "Type the name again without it" in body["message"]
    assert not Domain.objects.exists()


@pytest.mark.parametrize(
    "name, stored",
    [
        ("bücher.test", "xn--bcher-kva.test"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("сосо.рф", "xn--n1aahb.xn--p1ai"),  # looks Latin, but the ending is Cyrillic too
        (
            "日本語abc.jp",
            "xn--abc-s08fl0dtz6h.jp",
        ),  # Latin with Japanese is how Japanese is written
        ("مثال.ایران", "xn--mgbh0fb.xn--mgba3a4f16a"),
    ],
)
def test_real_international_names_are_accepted(post_domain, name, stored):
    status, body = post_domain(name)
    assert status == 201, body
    assert body["name"] == stored


def test_the_portal_says_why_a_lookalike_is_refused(alice_client, tenants):
    response = alice_client.post("/o/acme/domains/", {"name": "\u0430pple.test"})
    assert "mixes letters of different alphabets" in response.content.decode()
    assert not Domain.objects.exists()
