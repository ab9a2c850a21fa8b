"""Customer portal: thin views that call selectors and services."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from mailherd.api.selectors import api_token_list
from mailherd.api.services import api_token_create, api_token_revoke
from mailherd.core.actors import Actor, client_ip
from mailherd.core.errors import MailherdError
from mailherd.plans.selectors import organization_usage, plan_list_public
from mailherd.portal.base import LAST_ORG_SESSION_KEY, org_view, portal_context, run_service
from mailherd.portal.forms import ApiTokenForm, InvitationForm, OrganizationForm, RoleForm
from mailherd.portal.selectors import onboarding_checklist, onboarding_current
from mailherd.tenancy import services as tenancy
from mailherd.tenancy.models import Role
from mailherd.tenancy.selectors import (
    can_manage_members,
    invitation_list_pending,
    membership_list,
    organization_list_for_user,
    sign_in_link_user,
)


def landing(request):
    return render(request, "portal/landing.html", {"plans": plan_list_public()})


@login_required
def home(request):
    """Send the user to their last organization, the first one, or to create one."""
    organizations = organization_list_for_user(user=request.user)
    last = request.session.get(LAST_ORG_SESSION_KEY)
    chosen = next((org for org in organizations if org.slug == last), None) or organizations.first()
    if chosen is None:
        return redirect("portal:organization_create")
    return redirect("portal:dashboard", org_slug=chosen.slug)


@login_required
def organization_create(request):
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        actor = Actor.for_user(request.user, ip=client_ip(request))
        organization = run_service(
            request,
            form,
            lambda: tenancy.organization_create(actor=actor, name=form.cleaned_data["name"]),
        )
        if organization is not None:
            from mailherd.billing.views import chosen_plan_follow_up

            messages.success(request, f"Welcome to {organization.name}.")
            follow_up = chosen_plan_follow_up(request, organization)
            if follow_up:
                return redirect(follow_up)
            return redirect("portal:dashboard", org_slug=organization.slug)
    has_org = organization_list_for_user(user=request.user).exists()
    return render(request, "portal/organization_create.html", {"form": form, "has_org": has_org})


@org_view
def dashboard(request):
    usage = organization_usage(organization=request.organization)
    steps = onboarding_checklist(organization=request.organization)
    context = portal_context(
        request,
        usage=usage.values(),
        nav="dashboard",
        steps=steps,
        current_step=onboarding_current(steps),
    )
    template = "portal/dashboard.html"
    return render(request, f"{template}#onboarding" if request.htmx else template, context)


@org_view
def organization_settings(request):
    form = OrganizationForm(request.POST or None, initial={"name": request.organization.name})
    if request.method == "POST" and form.is_valid():
        done = run_service(
            request,
            form,
            lambda: tenancy.organization_rename(
                actor=request.actor, membership=request.membership, name=form.cleaned_data["name"]
            ),
        )
        if done:
            messages.success(request, "Settings saved.")
            return redirect("portal:settings", org_slug=request.organization.slug)
    return render(
        request, "portal/settings.html", portal_context(request, form=form, nav="settings")
    )


@org_view
def members(request):
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        invitation = run_service(
            request,
            form,
            lambda: tenancy.invitation_create(
                actor=request.actor,
                membership=request.membership,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            ),
        )
        if invitation and invitation.replaced_role:
            messages.warning(
                request,
                f"Invitation sent again to {invitation.email}, now as"
                f" {invitation.get_role_display()} (the earlier one, as"
                f" {Role(invitation.replaced_role).label}, no longer works).",
            )
            return redirect("portal:members", org_slug=request.organization.slug)
        if invitation:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("portal:members", org_slug=request.organization.slug)
    context = portal_context(
        request,
        form=form,
        role_choices=RoleForm.base_fields["role"].choices,
        members=membership_list(organization=request.organization),
        invitations=invitation_list_pending(organization=request.organization),
        can_manage=can_manage_members(request.membership),
        nav="members",
    )
    return render(request, "portal/members.html", context)


@require_POST
@org_view
def member_role(request, member_id):
    form = RoleForm(request.POST)
    if form.is_valid():
        done = run_service(
            request,
            None,
            lambda: tenancy.membership_change_role(
                actor=request.actor,
                membership=request.membership,
                member_id=member_id,
                role=form.cleaned_data["role"],
            ),
        )
        if done:
            messages.success(request, "Role changed.")
    return redirect("portal:members", org_slug=request.organization.slug)


@require_POST
@org_view
def member_remove(request, member_id):
    leaving = member_id == request.membership.pk
    done = run_service(
        request,
        None,
        lambda: (
            tenancy.membership_remove(
                actor=request.actor, membership=request.membership, member_id=member_id
            )
            or True
        ),
    )
    if done and leaving:
        messages.success(request, f"You left {request.organization.name}.")
        request.session.pop(LAST_ORG_SESSION_KEY, None)
        return redirect("portal:home")
    if done:
        messages.success(request, "Member removed.")
    return redirect("portal:members", org_slug=request.organization.slug)


@require_POST
@org_view
def invitation_revoke(request, invitation_id):
    run_service(
        request,
        None,
        lambda: tenancy.invitation_revoke(
            actor=request.actor, membership=request.membership, invitation_id=invitation_id
        ),
    )
    return redirect("portal:members", org_slug=request.organization.slug)


def invitation_accept(request, token):
    """Show an invitation; a signed-in user with the invited address can accept it."""
    try:
        invitation = tenancy.invitation_preview(token=token)
    except MailherdError as exc:
        return render(request, "portal/invitation.html", {"error": exc.message}, status=410)
    if not request.user.is_authenticated:
        request.session["after_login"] = reverse("portal:invitation_accept", args=[token])
        return render(
            request, "portal/invitation.html", {"invitation": invitation, "anonymous": True}
        )
    if request.method == "POST":
        actor = Actor.for_user(request.user, ip=client_ip(request))
        try:
            membership = tenancy.invitation_accept(actor=actor, token=token)
        except MailherdError as exc:
            return render(
                request, "portal/invitation.html", {"invitation": invitation, "error": exc.message}
            )
        messages.success(request, f"You joined {membership.organization.name}.")
        return redirect("portal:dashboard", org_slug=membership.organization.slug)
    return render(request, "portal/invitation.html", {"invitation": invitation})


def sign_in_link(request, uid, token):
    """A one-time link from `create_org`: a button signs in (so link scanners don't use it up)."""
    user = sign_in_link_user(uid=uid, token=token)
    if user is None:
        return render(request, "portal/sign_in_link.html", {"invalid": True}, status=410)
    if request.method == "POST":
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        if not user.has_usable_password():
            messages.success(request, "You are signed in. Choose a password for next time.")
            return redirect("account_set_password")
        return redirect("portal:home")
    return render(request, "portal/sign_in_link.html", {"email": user.email})


@org_view
def api_tokens(request):
    form = ApiTokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        if not can_manage_members(request.membership):
            messages.error(request, "Only owners and admins can create API tokens.")
        else:
            created = run_service(
                request,
                form,
                lambda: api_token_create(
                    actor=request.actor,
                    organization=request.organization,
                    name=form.cleaned_data["name"],
                    scopes=form.chosen_scopes(),
                    expires_at=form.expires_at(),
                ),
            )
            if created:
                new_token = created[1]
                form = ApiTokenForm()
    context = portal_context(
        request,
        form=form,
        new_token=new_token,
        tokens=api_token_list(organization=request.organization),
        can_manage=can_manage_members(request.membership),
        nav="api_tokens",
    )
    return render(request, "portal/api_tokens.html", context)


@require_POST
@org_view
def api_token_revoke_view(request, token_id):
    if not can_manage_members(request.membership):
        messages.error(request, "Only owners and admins can revoke API tokens.")
    elif run_service(
        request,
        None,
        lambda: api_token_revoke(
            actor=request.actor, organization=request.organization, token_id=token_id
        ),
    ):
        messages.success(request, "Token revoked; it stops working immediately.")
    return redirect("portal:api_tokens", org_slug=request.organization.slug)
