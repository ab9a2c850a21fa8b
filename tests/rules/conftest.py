from dataclasses import dataclass

import pytest

from mailherd.api.services import api_token_create
from mailherd.core.actors import Actor
from mailherd.hosting.provisioning import outbox_drain
from mailherd.hosting.services.mailboxes import mailbox_create
from mailherd.plans.models import Plan
from tests.hosting.conftest import mail_server, sim, verified_domain  # noqa: F401


def on_plan(organization, slug="business", **changes):
    plan = Plan.objects.get(slug=slug)
    for key, value in changes.items():
        setattr(plan, key, value)
    plan.save()
    organization.plan = plan
    organization.save(update_fields=["plan"])
    return plan


@dataclass
class Api:
    client: object
    token: str

    def __call__(self, method, path, json=None, **params):
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}
        if method in ("get", "delete"):
            response = getattr(self.client, method)("/api/v1" + path, params or None, **kwargs)
        else:
            response = getattr(self.client, method)(
                "/api/v1" + path, data=json, content_type="application/json", **kwargs
            )
        return response.status_code, (response.json() if response.content else None)


def api_for(client, organization) -> Api:
    token = api_token_create(actor=Actor.system(), organization=organization, name="script")[1]
    return Api(client=client, token=token)


@pytest.fixture
def acme_mail(tenants, mail_server):  # noqa: F811
    """Acme on the business plan with acme.test and ann@, bob@ on the simulator."""
    on_plan(tenants.acme)
    on_plan(tenants.globex)
    verified_domain(tenants.acme, "acme.test")
    verified_domain(tenants.globex, "globex.test")
    outbox_drain()
    for address in ("ann@acme.test", "bob@acme.test", "gus@globex.test"):
        org = tenants.acme if address.endswith("acme.test") else tenants.globex
        mailbox_create(
            actor=Actor.system(), organization=org, address=address, password="Str0ng-enough-pass"
        )
    outbox_drain()
    return tenants


@pytest.fixture
def api(client, acme_mail):
    return api_for(client, acme_mail.acme)


@pytest.fixture
def outsider(client, acme_mail):
    return api_for(client, acme_mail.globex)
