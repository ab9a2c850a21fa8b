import pytest

from mailherd.core.actors import Actor
from mailherd.hosting.services.domains import _domain_claim, domain_add
from mailherd.mailcow.models import MailServer
from tests.support.old_imap import old_imap  # noqa: F401  (fixture: the old IMAP server of a migration)


@pytest.fixture
def sim(mailcow_sim):  # noqa: F811
    mailcow_sim.reset()
    mailcow_sim.clear_faults()
    return mailcow_sim


@pytest.fixture
def mail_server(db, sim):
    return MailServer.objects.create(
        name="sim",
        api_url=sim.url,
        api_key=sim.api_key,
        hostname="mail.provider.test",
        imap_host="imap.provider.test",
        smtp_host="smtp.provider.test",
        pop3_host="pop.provider.test",
        webmail_url="https://mail.provider.test/SOGo",
    )


def verified_domain(organization, name: str):
    """A domain whose ownership check has passed (the DNS step itself is tested with PowerDNS)."""
    from django.utils import timezone

    actor = Actor.system()
    domain = domain_add(actor=actor, organization=organization, name=name)
    return _domain_claim(actor=actor, domain_id=domain.pk, now=timezone.now())


