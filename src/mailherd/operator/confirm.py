"""A confirmation page before a back-office action that changes mail (what happens, on Mailcow and to mail)."""

from django.contrib.admin import helpers
from django.template.response import TemplateResponse

CONFIRMED = "confirmed"

# What each destructive thing does, in the words shown on its confirmation page.
EFFECTS = {
    "suspend": [
        "Mailcow: the organization's mailboxes are set to refuse sign-ins (IMAP, POP3, SMTP, webmail).",
        "Mail: still received and kept; nothing is deleted.",
        "Undo: “Reactivate” lets the mailboxes sign in again at once.",
    ],
    "deactivate": [
        "Mailcow: the organization's mailboxes and domains are switched off.",
        "Mail: new mail to these domains is refused (senders get a bounce); stored mail is kept.",
        "Undo: “Reactivate” switches them on again; mail refused meanwhile is not recovered.",
    ],
    "outbox_discard": [
        "Mailcow: the change in these rows is never applied; Mailcow keeps what it has now.",
        "Mail: delivery follows Mailcow's current state (e.g. a mailbox never created there gets no mail).",
        "Mailherd: the object keeps its error until it is changed again or the reconciler repairs it.",
    ],
    "hosting.domain": [
        "Mailcow: the domain is removed with all of its mailboxes and aliases.",
        "Mail: every message stored in those mailboxes is deleted and cannot be recovered; new mail to the domain is refused.",
    ],
    "hosting.mailbox": [
        "Mailcow: the mailbox is deleted.",
        "Mail: all of its messages are deleted and cannot be recovered; new mail to the address is refused.",
    ],
    "hosting.alias": [
        "Mailcow: the alias is removed.",
        "Mail: new mail to the address is refused (unless a catch-all takes it); mail already delivered stays.",
    ],
    "mailcow.mailserver": [
        "Mailcow: nothing is deleted on the server; Mailherd stops managing it.",
        "Mail: keeps flowing on that server, but changes made in Mailherd no longer reach it.",
    ],
}


def confirm_action(
    modeladmin, request, queryset, *, action: str, title: str, effects: str, button: str
):
    """Return the confirmation page, or None when the operator has confirmed (then act)."""
    if request.POST.get(CONFIRMED) == "yes":
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "objects": list(queryset[:50]),
        "count": queryset.count(),
        "effects": EFFECTS[effects],
        "action": action,
        "button": button,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "operator/action_confirm.html", context)
