"""Portal pages: the organization's mail sign-in, who uses a mailbox, "my mailboxes"."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mailherd.hosting import services as hosting_services
from mailherd.hosting.selectors import mailbox_get
from mailherd.operator.selectors import feature_enabled
from mailherd.portal.base import org_view, portal_context, run_service
from mailherd.tenancy.selectors import can_manage_hosting, membership_list
from mailherd.webmail import selectors, services
from mailherd.webmail.forms import MailboxUserForm, SignInForm
from mailherd.webmail.models import AppPassword


@org_view
def sign_in_settings(request):
    row = selectors.organization_webmail(request.organization)
    form = SignInForm(
        request.POST or None,
        initial={"mode": row.sign_in_mode, "require_two_factor": row.require_two_factor},
    )
    allowed = can_manage_hosting(request.membership)
    if request.method == "POST" and allowed and form.is_valid():
        result = run_service(
            request,
            form,
            lambda: services.organization_sign_in_set(
                actor=request.actor,
                organization=request.organization,
                mode=form.cleaned_data["mode"],
                require_two_factor=form.cleaned_data["require_two_factor"],
            ),
        )
        if result:
            _, passwords = result
            request.session["shown_once_passwords"] = passwords
            messages.success(
                request, "Mail sign-in saved. Mailboxes are being updated on the mail server."
            )
            return redirect("webmail:sign_in", org_slug=request.organization.slug)
    context = portal_context(
        request,
        form=form,
        can_change=allowed,
        nav="mail_sign_in",
        passwords=request.session.pop("shown_once_passwords", None),
        mailcow_admin=request.membership.role == "owner"
        and feature_enabled("mailcow_admin", request.organization),
    )
    return render(request, "webmail/sign_in.html", context)


@org_view
@require_POST
def mailbox_user(request, address):
    """Assign the mailbox to a member and switch its single sign-on (PATCH /mailboxes/{address})."""
    mailbox = mailbox_get(organization=request.organization, address=address)
    if mailbox is None:
        raise Http404
    if not can_manage_hosting(request.membership):
        raise Http404
    form = MailboxUserForm(request.POST, members=membership_list(organization=request.organization))
    if form.is_valid():
        done = run_service(
            request,
            form,
            lambda: hosting_services.mailbox_update(
                actor=request.actor,
                organization=request.organization,
                address=mailbox.address,
                user=form.cleaned_data["user"],
                sso=form.cleaned_data["sso"],
            ),
        )
        if done:
            if getattr(done, "generated_password", None):
                request.session["shown_once_password"] = {
                    "address": mailbox.address,
                    "password": done.generated_password,
                }
            messages.success(request, "Saved.")
        else:
            messages.error(
                request,
                " ".join(str(e) for e in form.non_field_errors() + form.errors.get("user", []))
                or "Not saved.",
            )
    return redirect(
        "hosting:mailbox_detail", org_slug=request.organization.slug, address=mailbox.address
    )


def mailbox_card_context(request, mailbox) -> dict:
    """What the mailbox page shows about its user and webmail (hosting's page includes it)."""
    refusal = selectors.mailbox_refusal(user=request.user, mailbox=mailbox)
    return {
        "user_form": MailboxUserForm(
            initial={"user": mailbox.user.email if mailbox.user_id else "", "sso": mailbox.sso},
            members=membership_list(organization=request.organization),
        ),
        "can_open": refusal is None and selectors.sso_client_for_mailbox(mailbox) is not None,
        "refusal": refusal[1] if refusal and mailbox.user_id == request.user.pk else "",
    }


@org_view
def my_mailboxes(request):
    boxes = list(selectors.mailboxes_for_user(user=request.user, organization=request.organization))
    rows = [
        {
            "mailbox": box,
            "refusal": (selectors.mailbox_refusal(user=request.user, mailbox=box) or (None, ""))[1],
            "ready": selectors.sso_client_for_mailbox(box) is not None,
        }
        for box in boxes
    ]
    return render(
        request, "webmail/my_mailboxes.html", portal_context(request, rows=rows, nav="my_mailboxes")
    )


def _own_mailbox_or_404(request, address):
    """The mailbox's own page: its assigned user, or the organization's hosting managers."""
    mailbox = mailbox_get(organization=request.organization, address=address)
    if mailbox is None or not (
        mailbox.user_id == request.user.pk or can_manage_hosting(request.membership)
    ):
        raise Http404
    return mailbox


@org_view
def mailbox_self(request, address):
    from mailherd.webmail import app_passwords, autoreply
    from mailherd.webmail.forms import AppPasswordForm, AutoReplyForm, OwnPasswordForm

    mailbox = _own_mailbox_or_404(request, address)
    page = redirect(
        "webmail:mailbox_self", org_slug=request.organization.slug, address=mailbox.address
    )
    create_form = AppPasswordForm(
        request.POST if request.POST.get("form") == "app_password" else None
    )
    password_form = OwnPasswordForm(
        request.POST if request.POST.get("form") == "password" else None
    )
    reply = autoreply.autoreply_get(mailbox)
    reply_form = AutoReplyForm(
        request.POST if request.POST.get("form") == "autoreply" else None,
        initial={
            "enabled": reply.enabled,
            "subject": reply.subject,
            "message": reply.message,
            "starts_on": reply.starts_on,
            "ends_on": reply.ends_on,
        },
    )
    own = _own_settings_forms(request, mailbox)
    if request.method == "POST":
        action = request.POST.get("form")
        if action in own["handlers"]:
            if own["handlers"][action]():
                return page
        elif action == "app_password" and create_form.is_valid():
            result = run_service(
                request,
                create_form,
                lambda: app_passwords.app_password_create(
                    actor=request.actor,
                    organization=request.organization,
                    address=mailbox.address,
                    name=create_form.cleaned_data["name"],
                    protocols=create_form.cleaned_data["protocols"],
                ),
            )
            if result:
                row, password = result
                request.session["shown_once_app_password"] = {
                    "id": row.pk,
                    "name": row.name,
                    "password": password,
                }
                return page
        elif action == "revoke":
            done = run_service(
                request,
                None,
                lambda: (
                    app_passwords.app_password_delete(
                        actor=request.actor,
                        organization=request.organization,
                        address=mailbox.address,
                        app_password_id=request.POST.get("id"),
                    )
                    or True
                ),
            )
            if done:
                messages.success(
                    request, "App password revoked: the app using it can no longer sign in."
                )
            return page
        elif action == "autoreply" and reply_form.is_valid():
            done = run_service(
                request,
                reply_form,
                lambda: autoreply.autoreply_set(
                    actor=request.actor,
                    organization=request.organization,
                    address=mailbox.address,
                    **reply_form.cleaned_data,
                ),
            )
            if done:
                messages.success(
                    request,
                    "Out-of-office reply saved." if done.enabled else "Out-of-office reply off.",
                )
                return page
        elif action == "password" and password_form.is_valid():
            done = run_service(
                request,
                password_form,
                lambda: hosting_services.mailbox_update(
                    actor=request.actor,
                    organization=request.organization,
                    address=mailbox.address,
                    password=password_form.cleaned_data["password"],
                ),
            )
            if done:
                messages.success(request, "Password changed. Mail apps need the new password now.")
                return page
    context = portal_context(
        request,
        mailbox=mailbox,
        app_passwords=app_passwords.app_password_list(
            organization=request.organization, address=mailbox.address
        ),
        protocol_names=AppPassword.PROTOCOLS,
        create_form=create_form,
        password_form=password_form,
        reply_form=reply_form,
        reply=reply,
        new_app_password=request.session.pop("shown_once_app_password", None),
        webmail=mailbox_card_context(request, mailbox),
        nav="my_mailboxes",
        **own["context"],
    )
    return render(request, "webmail/mailbox_self.html", context)


def _own_settings_forms(request, mailbox) -> dict:
    """Forwarding, protocol access and spam filter level: forms and their POST handlers."""
    from mailherd.webmail import selfservice
    from mailherd.webmail.forms import ForwardingForm, ProtocolsForm, SpamLevelForm

    posted = request.POST.get("form") if request.method == "POST" else None
    forwarding = selfservice.forwarding_get(mailbox)
    forward_form = ForwardingForm(
        request.POST if posted == "forwarding" else None,
        initial={"targets": "\n".join(forwarding.targets), "keep_copy": forwarding.keep_copy},
    )
    protocols_form = ProtocolsForm(
        request.POST if posted == "protocols" else None,
        initial=selfservice.mailbox_protocols(mailbox),
    )
    level = selfservice.spam_level_of(mailbox)
    custom = (
        f"Custom: Junk from score {mailbox.spam_low:g}, refused from {mailbox.spam_high:g}"
        if level == "custom"
        else ""
    )
    spam_form = SpamLevelForm(
        request.POST if posted == "spam_level" else None, initial={"level": level}, custom=custom
    )
    common = {"actor": request.actor, "organization": request.organization, "address": mailbox.address}

    def save_forwarding():
        if not forward_form.is_valid():
            return False
        done = run_service(
            request,
            forward_form,
            lambda: selfservice.forwarding_set(
                targets=forward_form.cleaned_data["targets"],
                keep_copy=forward_form.cleaned_data["keep_copy"],
                **common,
            ),
        )
        if done:
            messages.success(
                request,
                f"Forwarding to {', '.join(done.targets)} saved."
                if done.targets
                else "Forwarding off.",
            )
        return bool(done)

    def save_protocols():
        if not protocols_form.is_valid():
            return False
        done = run_service(
            request,
            protocols_form,
            lambda: selfservice.mailbox_protocols_set(
                protocols=protocols_form.cleaned_data, **common
            ),
        )
        if done:
            messages.success(request, "Access saved. The mail server applies it in a moment.")
        return bool(done)

    def save_spam_level():
        if not spam_form.is_valid():
            return False
        if spam_form.cleaned_data["level"] == "custom":
            return True  # unchanged
        done = run_service(
            request,
            spam_form,
            lambda: selfservice.mailbox_spam_level_set(
                level=spam_form.cleaned_data["level"], **common
            ),
        )
        if done:
            messages.success(request, "Spam filter saved.")
        return bool(done)

    return {
        "handlers": {
            "forwarding": save_forwarding,
            "protocols": save_protocols,
            "spam_level": save_spam_level,
        },
        "context": {
            "forward_form": forward_form,
            "forwarding": forwarding,
            "protocols_form": protocols_form,
            "spam_form": spam_form,
        },
    }


@org_view
@require_POST
def mailcow_admin(request):
    """Owners only: open Mailcow's domain-admin pages with a one-time token."""
    from mailherd.tenancy.models import Role

    if request.membership.role != Role.OWNER:
        raise Http404
    url = run_service(
        request,
        None,
        lambda: services.mailcow_admin_open(actor=request.actor, organization=request.organization),
    )
    if url is None:
        return redirect("webmail:sign_in", org_slug=request.organization.slug)
    return redirect(url)
