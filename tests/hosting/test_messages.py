"""Every refusal in the hosting pages says what is wrong in plain words, once, on its field."""

import re

import pytest

from mailherd.core.actors import Actor
from mailherd.hosting import services
from mailherd.hosting.services import domain_add
from tests.hosting.conftest import verified_domain

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def field_errors(html: str, field: str) -> list[str]:
    """The error texts shown under the form field `field` (nothing else counts)."""
    block = re.search(
        rf'<div class="field has-error">\s*<label for="id_{field}">.*?</div>\s*</div>|'
        rf'<div class="field has-error">\s*<label for="id_{field}">(?:(?!<div class="field).)*',
        html,
        re.S,
    )
    assert block, f"no error on the {field} field"
    return re.findall(r'<div class="error" role="alert">(.*?)</div>', block.group(0), re.S)


def shown_once(html: str, text: str) -> bool:
    return html.count(text) == 1


@pytest.mark.parametrize(
    "name,message",
    [
        ("", "Enter a domain name, such as example.com."),
        ("not a domain", "A domain name cannot contain spaces."),
        (
            "a" * 64 + ".test",
            "Each part of a domain name between dots can be at most 63 characters long.",
        ),
        ("localhost", "Enter the whole domain name with its ending, such as example.com."),
        ("me@example.com", "Enter only the domain: the part after the @, such as example.com."),
        ("-bad.example", "A part of a domain name cannot start or end with a hyphen."),
        ("example..com", "A domain name cannot have two dots in a row or start with a dot."),
        ("192.168.1.1", "This looks like an IP address; enter a domain name such as example.com."),
        (
            "exa_mple.com",
            "This is not a valid domain name: use letters, digits and hyphens, such as example.com.",
        ),
    ],
)
def test_a_bad_domain_name_is_explained_on_the_field(alice_client, tenants, name, message):
    html = alice_client.post("/o/acme/domains/", {"name": name}).content.decode()
    assert field_errors(html, "name") == [message]
    assert shown_once(html, message)
    assert "alert-error" not in html  # no banner besides the field
    assert "local_part" not in message and "contains a forbidden" not in html


@pytest.mark.parametrize(
    "local_part,message",
    [
        ("", "Enter the part of the address before the @."),
        ("two words", "An address cannot contain spaces."),
        (
            ".carol",
            "The part before the @ cannot start or end with a dot or have two dots in a row.",
        ),
        ("x" * 65, "The part before the @ can be at most 64 characters long."),
        ("caröl", "The part before the @ can only contain letters, digits and . _ - + characters."),
    ],
)
def test_a_bad_mailbox_address_is_explained_on_the_address_field(
    alice_client, tenants, mail_server, local_part, message
):
    verified_domain(tenants.acme, "acme.test")
    html = alice_client.post(
        "/o/acme/mailboxes/new/", {"local_part": local_part, "domain": "acme.test", "quota_mb": 100}
    ).content.decode()
    assert field_errors(html, "local_part") == [message]
    assert shown_once(html, message)
    assert "alert-error" not in html


def test_an_alias_on_an_unverified_domain_says_to_verify_it_first(alice_client, tenants):
    domain_add(actor=SYSTEM, organization=tenants.acme, name="later.test")
    html = alice_client.post(
        "/o/acme/aliases/", {"address": "sales@later.test", "goto": "x@later.test", "enabled": "on"}
    ).content.decode()
    message = "later.test is not verified yet: publish its TXT record and verify the domain on its page first."
    assert field_errors(html, "address") == [message]
    assert "before adding mailboxes" not in html


def test_an_alias_target_without_an_at_is_explained(alice_client, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    html = alice_client.post(
        "/o/acme/aliases/", {"address": "sales@acme.test", "goto": "bob", "enabled": "on"}
    ).content.decode()
    assert field_errors(html, "goto") == [
        "bob is not an email address: it needs one @, such as name@example.com."
    ]


def test_a_failed_verification_is_shown_once_next_to_the_record(
    alice_client, tenants, dns_nameserver
):
    domain_add(actor=SYSTEM, organization=tenants.acme, name="waiting.test")
    dns_nameserver.create_zone("waiting.test")
    html = alice_client.post("/o/acme/domains/waiting.test/verify/", follow=True).content.decode()
    assert html.count("is not verified yet") == 1
    assert "alert-error" not in html  # no banner repeating the box
    assert "Checked just now: There is no TXT record at _domain-verify.waiting.test yet." in html
    assert "Not found yet" in html and "Not checked yet" not in html
    assert "minutes ago" not in html
    # the ownership record is listed once (in step 1), not again in a records table
    assert html.count('data-copy="domain-verify=') == 1


def test_host_names_wrap_only_after_dots(alice_client, tenants):
    domain_add(actor=SYSTEM, organization=tenants.acme, name="acme-demo.test")
    html = alice_client.get("/o/acme/domains/acme-demo.test/").content.decode()
    assert '<code class="host">_domain-verify.<wbr>acme-demo.<wbr>test</code>' in html


def test_domains_list_shows_mailbox_counts(alice_client, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    for name in ("ann", "ben"):
        services.mailbox_create(
            actor=SYSTEM, organization=tenants.acme, address=f"{name}@acme.test", quota_mb=10
        )
    html = alice_client.get("/o/acme/domains/").content.decode()
    assert re.search(r'aria-label="2 mailboxes of acme.test">2</a>', html)
    assert ">view<" not in html


def test_at_the_plan_limit_new_mailbox_is_disabled_with_the_limit_and_an_upgrade_link(
    alice_client, tenants, mail_server
):
    verified_domain(tenants.acme, "acme.test")
    for number in range(10):
        services.mailbox_create(
            actor=SYSTEM, organization=tenants.acme, address=f"u{number}@acme.test", quota_mb=10
        )
    html = alice_client.get("/o/acme/mailboxes/").content.decode()
    assert (
        '<span class="btn" role="link" aria-disabled="true" aria-describedby="mailboxes-limit">New mailbox</span>'
        in html
    )
    assert "10 of 10 mailboxes used on the Starter plan." in html
    assert 'href="/o/acme/billing/plans/">Upgrade your plan</a>' in html
    create = alice_client.get("/o/acme/mailboxes/new/").content.decode()
    assert 'name="local_part"' not in create and "10 of 10 mailboxes used" in create


def test_at_the_limit_a_member_who_cannot_pay_is_told_whom_to_ask(client, tenants, mail_server):
    from mailherd.tenancy.models import Membership
    from tests.conftest import make_user

    verified_domain(tenants.acme, "acme.test")
    for number in range(10):
        services.mailbox_create(
            actor=SYSTEM, organization=tenants.acme, address=f"u{number}@acme.test", quota_mb=10
        )
    admin = make_user("admin@acme.test")
    Membership.objects.create(organization=tenants.acme, user=admin, role="admin")
    client.force_login(admin)
    html = client.get("/o/acme/mailboxes/").content.decode()
    assert "ask an owner to upgrade the plan" in html and "mailto:alice@acme.test" in html
    assert "Upgrade your plan</a>" not in html


def test_sizes_are_in_human_units(alice_client, tenants, mail_server):
    verified_domain(tenants.acme, "acme.test")
    services.mailbox_create(
        actor=SYSTEM, organization=tenants.acme, address="ann@acme.test", quota_mb=2048
    )
    listing = alice_client.get("/o/acme/mailboxes/").content.decode()
    assert "0 B of 2 GiB" in listing and "bytesof" not in listing and "MiB" not in listing
    dashboard = alice_client.get("/o/acme/").content.decode()
    assert "2 GiB of 10 GiB" in dashboard and "10240" not in dashboard


def test_the_storage_limit_message_speaks_gib(tenants, mail_server):
    from mailherd.core.errors import PlanLimitExceeded

    verified_domain(tenants.acme, "acme.test")
    with pytest.raises(PlanLimitExceeded) as refused:
        services.mailbox_create(
            actor=SYSTEM, organization=tenants.acme, address="big@acme.test", quota_mb=20480
        )
    assert refused.value.message == (
        "Your Starter plan allows 10 GiB of storage; your mailboxes have 0 B and this asks for"
        " 20 GiB more. Upgrade your plan, or give mailboxes less storage."
    )
