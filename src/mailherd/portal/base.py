"""Tenant scoping for portal views: every org page resolves its membership once, or 404s."""

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect

from mailherd.core.actors import Actor, client_ip
from mailherd.core.errors import MailherdError
from mailherd.tenancy.selectors import membership_get, organization_list_for_user

LAST_ORG_SESSION_KEY = "last_organization"
# The only organization pages a mailbox user (tenancy Role.MAILBOX_USER) reaches: their own mailboxes.
MAILBOX_USER_VIEWS = {"webmail:my_mailboxes", "webmail:mailbox_self"}


def org_view(view):
    """Decorate a view taking `org_slug`: sets request.membership, .organization and .actor.

    Non-members get 404, never 403, so another organization's existence is not revealed.
    """

    @login_required
    @functools.wraps(view)
    def wrapper(request, org_slug, *args, **kwargs):
        membership = membership_get(user=request.user, organization_slug=org_slug)
        request.membership = membership
        request.organization = membership.organization
        request.actor = Actor.for_user(request.user, ip=client_ip(request))
        request.session[LAST_ORG_SESSION_KEY] = org_slug
        if membership.role == "mailbox_user":
            name = getattr(request.resolver_match, "view_name", "")
            if name == "portal:dashboard":
                return redirect("webmail:my_mailboxes", org_slug=org_slug)
            if name not in MAILBOX_USER_VIEWS:
                raise Http404("No such page")
        return view(request, *args, **kwargs)

    return wrapper


def portal_context(request, **extra) -> dict:
    return {
        "organization": request.organization,
        "membership": request.membership,
        "organizations": organization_list_for_user(user=request.user),
        **extra,
    }


def run_service(request, form, call, fields: dict[str, str] | None = None):
    """Run a service call; a MailherdError becomes a form error (on its field if it names one).

    `fields` maps a service's field names to the form's (e.g. "address" → "local_part"), so
    the message sits on the input it is about. Return the call's result, or None when it failed.
    """
    try:
        return call()
    except MailherdError as exc:
        field = exc.fields.get("field")
        field = (fields or {}).get(field, field)
        if form is not None:
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            messages.error(request, exc.message)
        return None
