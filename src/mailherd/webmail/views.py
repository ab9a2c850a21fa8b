"""Portal side of webmail sign-in: /webmail/<address>/ starts Mailcow's generic-oidc flow."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect

from mailherd.core.actors import Actor, client_ip
from mailherd.core.audit import audit_record
from mailherd.hosting.models import Mailbox
from mailherd.webmail import selectors
from mailherd.webmail.oidc import SESSION_MAILBOX_KEY, refused


@login_required
def webmail_open(request, address):
    """Remember the mailbox for /o/authorize/, then send the browser to Mailcow's SSO start.

    The flow must start at Mailcow (it keeps the OAuth state in its session);
    Mailcow sends the browser back to /o/authorize/, which answers at once.
    """
    mailbox = (
        Mailbox.objects.select_related("organization", "domain__mail_server")
        .filter(address=address.strip().lower(), organization__memberships__user=request.user)
        .first()
    )
    if mailbox is None:
        raise Http404("No such mailbox.")
    refusal = selectors.mailbox_refusal(user=request.user, mailbox=mailbox)
    if refusal:
        return refused(request, *refusal)
    sso_client = selectors.sso_client_for_mailbox(mailbox)
    if sso_client is None:
        return refused(request, *selectors.Refusal.NO_SERVER, status=409)
    request.session[SESSION_MAILBOX_KEY] = {"id": mailbox.pk}
    audit_record(
        actor=Actor.for_user(request.user, ip=client_ip(request)),
        action="webmail.open",
        organization=mailbox.organization,
        obj=mailbox,
    )
    return redirect(f"{sso_client.webmail_url.rstrip('/')}/?iam_sso=1")
