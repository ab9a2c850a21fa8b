"""Every back-office write leaves an audit row with who, from where and what changed.

The forms are posted as the operator's browser would: every field with its current value, the
inline formsets' management data, and the operator's changes on top.
"""

import pytest

from mailherd.core.models import AuditEvent
from mailherd.mailcow.models import MailServer
from mailherd.plans.models import Plan
from mailherd.tenancy.models import Membership, User

pytestmark = pytest.mark.django_db

CLIENT_ADDRESS = "203.0.113.77"


@pytest.fixture(autouse=True)
def _behind_a_proxy(settings):
    settings.MAILHERD_TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    settings.MAILHERD_TRUSTED_PROXY_COUNT = 1


def _form_data(response) -> dict:
    """What the browser would post back unchanged: the admin form and its inlines."""
    data = {}

    def add(form):
        for name, field in form.fields.items():
            bound = form[name]
            value = bound.value()
            key = form.add_prefix(name)
            if value is None:
                continue
            if hasattr(field.widget, "decompress") and not isinstance(value, (list, tuple)):
                for index, part in enumerate(field.widget.decompress(value)):
                    if part is not None:
                        data[f"{key}_{index}"] = str(part)
                continue
            if isinstance(value, (list, tuple)):
                data[key] = [str(v) for v in value]
            elif isinstance(value, bool):
                if value:
                    data[key] = "on"
            else:
                data[key] = str(value.pk if hasattr(value, "pk") else value)

    add(response.context["adminform"].form)
    for inline in response.context.get("inline_admin_formsets", []):
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = str(management[name].value())
        for form in formset.forms:
            add(form)
    return data


def post_change(client, url, **changes):
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    data = {**_form_data(page), **changes}
    response = client.post(url, data, HTTP_X_FORWARDED_FOR=f"198.51.100.1, {CLIENT_ADDRESS}")
    assert response.status_code == 302, (
        response.context["adminform"].form.errors
        if getattr(response, "context", None)
        else response.status_code
    )
    return response


def _row(action):
    row = AuditEvent.objects.filter(action=action).order_by("-pk").first()
    assert row is not None, (
        f"no {action} row; rows: {list(AuditEvent.objects.values_list('action', flat=True))}"
    )
    return row


def test_a_plan_edit_is_audited_with_what_changed(ops_client, ops_user, tenants):
    plan = Plan.objects.get(slug="starter")
    post_change(ops_client, f"/operator/plans/plan/{plan.pk}/change/", max_domains="7")
    row = _row("admin.plans.plan.change")
    assert row.actor_user == ops_user and row.ip == CLIENT_ADDRESS
    assert row.data["changed"]["max_domains"] == {"from": 3, "to": 7}


def test_a_membership_edit_is_audited(ops_client, tenants):
    membership = Membership.objects.get(user=tenants.alice, organization=tenants.acme)
    post_change(ops_client, f"/operator/tenancy/membership/{membership.pk}/change/", role="admin")
    row = _row("admin.tenancy.membership.change")
    assert row.organization == tenants.acme  # the customer's own trail shows it too
    assert row.data["changed"]["role"] == {"from": "owner", "to": "admin"}
    assert row.ip == CLIENT_ADDRESS


def test_a_membership_edit_through_the_organization_page_is_audited(ops_client, tenants):
    membership = Membership.objects.get(user=tenants.alice, organization=tenants.acme)
    url = f"/operator/tenancy/organization/{tenants.acme.pk}/change/"
    page = ops_client.get(url)
    data = _form_data(page)
    role_key = next(k for k, v in data.items() if k.endswith("-role") and v == "owner")
    post_change(ops_client, url, **{role_key: "billing"})
    membership.refresh_from_db()
    assert membership.role == "billing"
    row = _row("admin.tenancy.membership.change")
    assert row.data["changed"]["role"] == {"from": "owner", "to": "billing"}


def test_a_user_edit_is_audited(ops_client, tenants):
    user = User.objects.get(email="bob@globex.test")
    post_change(ops_client, f"/operator/tenancy/user/{user.pk}/change/", full_name="Bob Builder")
    row = _row("admin.tenancy.user.change")
    assert row.data["changed"]["full_name"]["to"] == "Bob Builder"
    assert row.ip == CLIENT_ADDRESS


def test_a_mail_server_edit_is_audited_without_its_secret(ops_client, tenants, sim):
    # the server form saves through the mail-server service, which writes its own row: that row
    # carries the operator's address and the changed fields' names, and there is no second row
    server = MailServer.objects.create(
        name="mx-1", api_url=sim.url, api_key=sim.api_key, hostname="mail.provider.test"
    )
    post_change(
        ops_client, f"/operator/mailcow/mailserver/{server.pk}/change/", capacity_mailboxes="900"
    )
    row = _row("mail_server.update")
    assert row.ip == CLIENT_ADDRESS
    assert "capacity_mailboxes" in row.data["fields"]
    assert sim.api_key not in str(row.data)
    assert not AuditEvent.objects.filter(action__startswith="admin.mailcow").exists()


def test_an_announcement_is_audited(ops_client, tenants):
    page = ops_client.get("/operator/notifications/announcement/add/")
    data = _form_data(page)
    data.update(
        title="Maintenance on Sunday",
        body="We upgrade the mail servers.",
        starts_at_0="2026-12-06",
        starts_at_1="08:00:00",
    )
    response = ops_client.post(
        "/operator/notifications/announcement/add/",
        data,
        HTTP_X_FORWARDED_FOR=CLIENT_ADDRESS,
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    row = _row("admin.notifications.announcement.add")
    assert row.data["changed"]["title"]["to"] == "Maintenance on Sunday"
    assert row.ip == CLIENT_ADDRESS


def test_a_delete_is_audited(ops_client, tenants):
    spare = Plan.objects.create(
        slug="spare", name="Spare", max_domains=1, max_mailboxes=1, max_aliases=1, max_storage_mb=1
    )
    ops_client.post(f"/operator/plans/plan/{spare.pk}/delete/", {"post": "yes"})
    assert not Plan.objects.filter(pk=spare.pk).exists()
    row = _row("admin.plans.plan.delete")
    assert row.object_repr == "Spare" and row.data["id"] == spare.pk


def test_a_write_a_service_audits_is_not_audited_twice(ops_client, tenants):
    starter = Plan.objects.get(slug="starter")
    ops_client.post(
        "/operator/plans/plan/", {"action": "retire_selected", "_selected_action": [starter.pk]}
    )
    assert AuditEvent.objects.filter(action="plan.retire").count() == 1
    assert not AuditEvent.objects.filter(action__startswith="admin.plans").exists()


def test_without_a_trusted_header_the_address_is_the_connection(ops_client, tenants, settings):
    settings.MAILHERD_TRUSTED_PROXY_HEADER = ""
    plan = Plan.objects.get(slug="starter")
    post_change(ops_client, f"/operator/plans/plan/{plan.pk}/change/", max_domains="5")
    assert _row("admin.plans.plan.change").ip == "127.0.0.1"  # the test client's REMOTE_ADDR
