import string

from django.conf import settings
from django.db import transaction

from mailherd.core.actors import Actor
from mailherd.core.management.commands.run import Command as RunCommand
from mailherd.tenancy.models import Organization, User
from mailherd.tenancy.services import organization_create

DEMO_OPERATOR = "operator@demo.mailherd.test"
DEMO_CUSTOMER = "owner@demo.mailherd.test"


class Command(RunCommand):
    help = (
        "Like `run`, with demo data (an operator, a demo organization) and the Mailcow simulator."
    )

    def choose_ports(self, options) -> None:
        """A taken port is no reason to stop a demo: take a free one and say so."""
        from mailherd.core.supervisor import free_port, port_free

        if not port_free(options["host"], options["port"]):
            chosen = free_port(options["host"])
            self.stdout.write(
                f"mailherd: port {options['port']} is in use; the demo serves on port {chosen}"
            )
            options["port"] = chosen
        if not port_free("127.0.0.1", self._mcp_port(options)):
            options["mcp_port"] = free_port()

    def prepare(self, options) -> dict:
        # The same passwords on every start with the same var/ (kept there, mode 0600).
        operator_password = _demo_password("operator")
        customer_password = _demo_password("customer")
        with transaction.atomic():
            operator, _ = User.objects.get_or_create(
                email=DEMO_OPERATOR, defaults={"is_staff": True, "is_superuser": True}
            )
            operator.is_staff = operator.is_superuser = True
            operator.set_password(operator_password)
            operator.save()
            customer, _ = User.objects.get_or_create(email=DEMO_CUSTOMER)
            customer.set_password(customer_password)
            customer.save()
            _verify_email(operator)
            _verify_email(customer)
            organization = Organization.objects.filter(memberships__user=customer).first()
            if organization is None:
                organization = organization_create(
                    actor=Actor.system(), name="Acme Demo", owner=customer, plan_slug="business"
                )
        extra = self.prepare_mailcow(options)
        _demo_mail(organization)
        site = f"http://{options['host']}:{options['port']}"
        rule = "=" * 72
        self.stdout.write(self.style.SUCCESS(rule))
        self.stdout.write(self.style.SUCCESS("Demo ready. Sign in at " + site + "/accounts/login/"))
        self.stdout.write(
            f"  operator back office: {site}/operator/   {DEMO_OPERATOR} / {operator_password}"
        )
        self.stdout.write(
            f"  two-factor set-up:    {site}{_operator_setup_path(operator)}"
        )
        self.stdout.write(
            f"  customer portal:      {site}/portal/     {DEMO_CUSTOMER} / {customer_password}"
        )
        self.stdout.write(f"  demo organization:    {organization.name} ({organization.slug})")
        self.stdout.write("  emails are printed here as blocks with their links")
        self.stdout.write(self.style.SUCCESS(rule))
        return extra

    def prepare_mailcow(self, options) -> dict:
        """Start the Mailcow simulator as the backend when no server is registered."""
        from mailherd.mailcow.demo import demo_simulator_processes

        return demo_simulator_processes(stdout=self.stdout)


def _operator_setup_path(operator) -> str:
    """The one-time authenticator set-up link (operators never enrol on their own)."""
    from urllib.parse import urlparse

    from mailherd.operator.selectors import operator_has_two_factor
    from mailherd.operator.services import operator_enrolment_create

    if operator_has_two_factor(operator):
        return "/operator/ (already set up)"
    return urlparse(operator_enrolment_create(actor=Actor.system(), user=operator)).path


DEMO_DOMAIN = "acme-demo.test"


def _demo_mail(organization) -> None:
    """A verified domain with a few mailboxes and an alias; the worker applies them to Mailcow.

    The demo domain's ownership is taken as proven (there is no public DNS for
    .test); real domains go through the TXT check.
    """
    from django.utils import timezone

    from mailherd.hosting import services
    from mailherd.hosting.models import Domain
    from mailherd.hosting.services.domains import _domain_claim

    if Domain.objects.filter(organization=organization).exists():
        return
    actor = Actor.system()
    domain = services.domain_add(actor=actor, organization=organization, name=DEMO_DOMAIN)
    _domain_claim(actor=actor, domain_id=domain.pk, now=timezone.now())
    for local, name, quota in (
        ("alice", "Alice Example", 2048),
        ("bob", "Bob Example", 1024),
        ("carol", "Carol Example", 1024),
    ):
        services.mailbox_create(
            actor=actor,
            organization=organization,
            address=f"{local}@{DEMO_DOMAIN}",
            name=name,
            quota_mb=quota,
        )
    services.alias_create(
        actor=actor,
        organization=organization,
        address=f"info@{DEMO_DOMAIN}",
        goto=[f"alice@{DEMO_DOMAIN}", f"bob@{DEMO_DOMAIN}"],
    )
    services.domain_add(actor=actor, organization=organization, name="acme-demo-unverified.test")


def _demo_password(who: str) -> str:
    from mailherd.core.env import load_or_create_secret

    return load_or_create_secret(
        settings.VAR_DIR / f"demo-{who}-password",
        length=16,
        alphabet=string.ascii_letters + string.digits,
    )


def _verify_email(user) -> None:
    from allauth.account.models import EmailAddress

    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
