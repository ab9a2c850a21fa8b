import pytest

from mailherd.api.services import api_token_create, api_token_revoke
from mailherd.core.actors import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_token(tenants):
    _token, plaintext = api_token_create(actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="t")
    return plaintext


def test_me_answers_with_the_tokens_organization(client, tenants, acme_token):
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {acme_token}")
    assert response.status_code == 200
    assert response.json()["organization"] == {"slug": "acme", "name": "Acme", "plan": "starter", "status": "active"}


@pytest.mark.parametrize("header", [None, "Bearer nope", "Bearer mh_deadbeef_wrong", "Basic abc"])
def test_me_is_401_without_a_valid_token(client, tenants, acme_token, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/api/v1/me", **extra)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_a_token_with_a_tampered_secret_is_refused(client, tenants, acme_token):
    tampered = acme_token[:-2] + ("AA" if not acme_token.endswith("AA") else "BB")
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {tampered}").status_code == 401


def test_a_revoked_token_stops_working(client, tenants, acme_token):
    from mailherd.api.models import ApiToken

    token = ApiToken.objects.get()
    api_token_revoke(actor=Actor.for_user(tenants.alice), organization=tenants.acme, token_id=token.pk)
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {acme_token}").status_code == 401


def test_openapi_document_is_published(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/me" in document["paths"]


def test_create_api_token_command_prints_a_working_token(client, tenants, capsys):
    from django.core.management import call_command

    call_command("create_api_token", "--org", "acme")
    printed = capsys.readouterr().out.strip()
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {printed}").json()["organization"]["slug"] == "acme"


def test_create_org_command_prints_the_slug(db, capsys):
    from django.core.management import call_command

    call_command("create_org", "--name", "Umbrella Corp", "--owner-email", "boss@umbrella.test", "--plan", "business")
    assert capsys.readouterr().out.strip().splitlines()[-1] == "umbrella-corp"
    from mailherd.tenancy.models import Organization

    assert Organization.objects.get(slug="umbrella-corp").plan.slug == "business"


def test_requests_beyond_the_token_rate_get_429_with_retry_after(client, tenants, acme_token, settings):
    settings.MAILHERD_API_RATE = "3/m"
    for _ in range(3):
        assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {acme_token}").status_code == 200
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {acme_token}")
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1
    # another organization's token has its own budget
    from mailherd.api.services import api_token_create

    _token, other = api_token_create(actor=Actor.for_user(tenants.bob), organization=tenants.globex, name="b")
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 200


def test_api_docs_load_their_assets_locally(client, db):
    page = client.get("/api/v1/docs").content.decode()
    assert "cdn.jsdelivr.net" not in page
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert client.get("/static/ninja/swagger-ui-bundle.js").status_code == 200


def test_a_plan_without_the_api_feature_gets_403(client, tenants, acme_token):
    from mailherd.plans.models import Plan

    plan = tenants.acme.plan
    Plan.objects.filter(pk=plan.pk).update(features=[f for f in plan.features if f != "api"])
    response = client.get("/api/v1/domains", HTTP_AUTHORIZATION=f"Bearer {acme_token}")
    assert response.status_code == 403
    assert response.json()["code"] == "feature_not_in_plan"
