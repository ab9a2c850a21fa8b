"""Which Mailcow server an organization's domains live on."""

from django.db.models import Count, F, Q

from mailherd.mailcow.models import MailServer


def place_organization(organization):
    """Return the organization's server, choosing one if it has none yet (caller holds its lock).

    An organization lives on one server: the least-loaded active one with room
    for another organization. None when no server is registered yet; the
    outbox then waits and applies everything once one is added.
    """
    if organization.mail_server_id:
        return organization.mail_server
    server = (
        MailServer.objects.filter(is_active=True)
        .annotate(mailbox_count=Count("domains__mailboxes", distinct=True))
        .filter(Q(mailbox_count__lt=F("capacity_mailboxes")))
        .order_by("mailbox_count", "id")
        .first()
    )
    if server is not None:
        organization.mail_server = server
        organization.save(update_fields=["mail_server"])
    return server
