"""The global email-hosting switch: confirmed before it goes off, then every hosting route pauses.

The routes come from Django's URL resolver (every pattern, the REST API's included), not from a
list kept by hand: a hosting page added later is covered, or this test names it.
"""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.core.models import AuditEvent
from mailherd.operator.maintenance import is_hosting_route, route_functions
from mailherd.operator.selectors import feature_enabled
from mailherd.operator.services import feature_switch_set

pytestmark = pytest.mark.django_db

# Words in a URL that only email hosting has: such a route must be a hosting route.
HOSTING_WORDS = re.compile(
    r"domains|mailbox|aliases|dns|quarantine|imports|autoconfig|autodiscover|mta-sts|mobileconfig",
    re.IGNORECASE,
)


def _walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


def _concrete(route: str, values: dict) -> str:
    """A request path for a route: converters filled with sample values, regex anchors dropped."""
    path = re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: values.get(m.group(2), "1"), route)
    path = path.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\", "")
    return "/" + path


def all_routes():
    return list(_walk(get_resolver().url_patterns))


@pytest.fixture
def hosting_off(tenants):
    feature_switch_set(actor=Actor.system(), name="email_hosting", enabled=False)
    yield
    feature_switch_set(actor=Actor.system(), name="email_hosting", enabled=True)


def test_turning_hosting_off_asks_for_confirmation_first(ops_client, tenants):
    page = ops_client.post("/operator/switches/email_hosting/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Turn email hosting off?" in html and "maintenance page" in html
    assert feature_enabled("email_hosting")  # one click changed nothing
    assert not AuditEvent.objects.filter(action="feature.switch").exists()

    done = ops_client.post(
        "/operator/switches/email_hosting/", {"confirmed": "yes", "note": "Mailcow upgrade"}
    )
    assert done.status_code == 302
    assert not feature_enabled("email_hosting")
    # turning it back on needs no confirmation
    assert ops_client.post("/operator/switches/email_hosting/").status_code == 302
    assert feature_enabled("email_hosting")


def test_the_dashboard_button_leads_to_the_confirmation(ops_client, tenants):
    html = ops_client.get("/operator/").content.decode()
    assert 'action="/operator/switches/email_hosting/"' in html


def test_every_hosting_route_in_the_url_configuration_answers_maintenance(tenants, hosting_off):
    from mailherd.tenancy.models import Membership

    assert Membership.objects.filter(user=tenants.alice, organization=tenants.acme).exists()
    portal = Client()
    portal.force_login(tenants.alice)
    _token, plaintext = api_token_create(
        actor=Actor.for_user(tenants.alice), organization=tenants.acme, name="script"
    )
    plan = tenants.acme.plan
    plan.features = sorted({*plan.features, "api"})
    plan.save()
    values = {
        "org_slug": tenants.acme.slug,
        "name": "acme.test",
        "address": "info@acme.test",
        "slug": tenants.acme.slug,
    }
    hosting, other = [], []
    for route, pattern in all_routes():
        path = _concrete(route, values)
        if path.startswith("/operator/"):
            continue  # the back office keeps working: the operator fixes things from there
        (hosting if is_hosting_route(pattern.callback) else other).append((path, pattern))

    # what the issue names is among them
    paths = {path for path, _ in hosting}
    for expected in [
        f"/o/{tenants.acme.slug}/domains/acme.test/dns/",
        f"/o/{tenants.acme.slug}/domains/acme.test/dns/zone/",
        f"/o/{tenants.acme.slug}/dns-providers/",
        f"/o/{tenants.acme.slug}/mailboxes/info@acme.test/setup.mobileconfig",
        "/mail/config-v1.1.xml",
        "/.well-known/autoconfig/mail/config-v1.1.xml",
        "/autodiscover/autodiscover.xml",
        "/.well-known/mta-sts.txt",
        f"/o/{tenants.acme.slug}/mailboxes/",
        f"/o/{tenants.acme.slug}/aliases/",
        "/api/v1/domains",
        "/api/v1/mailboxes",
        "/api/v1/aliases",
    ]:
        assert expected in paths, expected
    # and no route that names a hosting object escapes the switch
    escaped = [path for path, _ in other if HOSTING_WORDS.search(path)]
    assert escaped == [], escaped

    for path, pattern in hosting:
        api = path.startswith("/api/")
        for method in ("get", "post"):
            if api:
                response = getattr(Client(), method)(path, HTTP_AUTHORIZATION=f"Bearer {plaintext}")
                assert response.status_code == 503, (method, path, response.status_code)
                assert response.json()["code"] == "maintenance", path
            else:
                response = getattr(portal, method)(path)
                assert response.status_code == 503, (method, path, response.status_code)
                assert b"paused for maintenance" in response.content, path
            assert response["Retry-After"]

    # what is not hosting keeps answering: the dashboard, members, billing, the API's /me
    assert portal.get(f"/o/{tenants.acme.slug}/").status_code == 200
    assert portal.get(f"/o/{tenants.acme.slug}/members/").status_code == 200
    me = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert me.status_code == 200


def test_the_rest_api_routes_are_seen_through_to_their_operations():
    api_routes = [p for route, p in all_routes() if route.startswith("api/v1/domains")]
    assert api_routes
    for pattern in api_routes:
        functions = route_functions(pattern.callback)
        assert functions and all(f is not pattern.callback for f in functions)


def test_the_maintenance_page_keeps_the_portal_but_hides_hosting_links(tenants, hosting_off):
    portal = Client()
    portal.force_login(tenants.alice)
    slug = tenants.acme.slug
    page = portal.get(f"/o/{slug}/domains/")
    html = page.content.decode()
    assert page.status_code == 503
    assert "Email hosting is paused for maintenance" in html
    assert "Back to the dashboard" in html
    sidebar = html.split('class="sidenav"')[1].split("</nav>")[0]
    for hidden in ("/domains/", "/mailboxes/", "/aliases/", "My mailboxes", "Mail sign-in"):
        assert hidden not in sidebar, hidden
    assert f"/o/{slug}/members/" in sidebar
    # the dashboard's sidebar hides them too
    dashboard = portal.get(f"/o/{slug}/").content.decode()
    assert "/domains/" not in dashboard.split('class="sidenav"')[1].split("</nav>")[0]


def test_an_outsider_sees_the_plain_maintenance_page_not_the_organization(tenants, hosting_off):
    outsider = Client()
    outsider.force_login(tenants.bob)
    page = outsider.get(f"/o/{tenants.acme.slug}/domains/")
    assert page.status_code == 503
    assert tenants.acme.name not in page.content.decode()
    assert 'class="sidenav"' not in page.content.decode()


def test_with_hosting_on_the_sidebar_shows_hosting_links(tenants):
    portal = Client()
    portal.force_login(tenants.alice)
    html = portal.get(f"/o/{tenants.acme.slug}/").content.decode()
    sidebar = html.split('class="sidenav"')[1].split("</nav>")[0]
    assert "/domains/" in sidebar and "My mailboxes" in sidebar


def test_mcp_hosting_tools_answer_maintenance(tenants, hosting_off):
    from mailherd.core.errors import MailherdError
    from mailherd.operator.selectors import feature_require

    with pytest.raises(MailherdError) as paused:
        feature_require("email_hosting", tenants.acme)
    assert (paused.value.http_status, paused.value.code) == (503, "maintenance")
