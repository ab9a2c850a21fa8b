"""Portal pages for webhook endpoints: thin, over the same services as the API."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mailherd.portal.base import org_view, portal_context, run_service
from mailherd.tenancy.selectors import can_manage_hosting
from mailherd.webhooks import selectors, services
from mailherd.webhooks.events import EVENT_TYPES
from mailherd.webhooks.forms import EndpointForm

NOT_ALLOWED = "Only owners and admins can change webhooks."


def _endpoint_or_404(request, endpoint_id):
    endpoint = selectors.endpoint_get(organization=request.organization, endpoint_id=endpoint_id)
    if endpoint is None:
        raise Http404
    return endpoint


@org_view
def endpoint_list(request):
    can_manage = can_manage_hosting(request.membership)
    form = EndpointForm(request.POST or None)
    if request.method == "POST":
        if not can_manage:
            messages.error(request, NOT_ALLOWED)
        elif form.is_valid():
            data = form.cleaned_data
            created = run_service(
                request,
                form,
                lambda: services.endpoint_create(
                    actor=request.actor,
                    organization=request.organization,
                    url=data["url"],
                    events=data["events"],
                    description=data["description"],
                ),
            )
            if created:
                endpoint, secret = created
                # Shown once, on the next page only.
                request.session["webhook_secret"] = {"id": endpoint.pk, "secret": secret}
                return redirect("webhooks:endpoint_detail", request.organization.slug, endpoint.pk)
    context = portal_context(
        request,
        nav="webhooks",
        form=form,
        can_manage=can_manage,
        endpoints=selectors.endpoint_list(organization=request.organization),
    )
    return render(request, "webhooks/endpoint_list.html", context)


@org_view
def endpoint_detail(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    can_manage = can_manage_hosting(request.membership)
    shown = request.session.pop("webhook_secret", None)
    new_secret = shown["secret"] if shown and shown.get("id") == endpoint.pk else None
    form = EndpointForm(
        request.POST or None,
        initial={
            "url": endpoint.url,
            "description": endpoint.description,
            "events": endpoint.events,
        },
    )
    if request.method == "POST":
        if not can_manage:
            messages.error(request, NOT_ALLOWED)
        elif form.is_valid():
            data = form.cleaned_data
            done = run_service(
                request,
                form,
                lambda: services.endpoint_update(
                    actor=request.actor,
                    organization=request.organization,
                    endpoint_id=endpoint.pk,
                    url=data["url"],
                    events=data["events"],
                    description=data["description"],
                ),
            )
            if done:
                messages.success(request, "Webhook endpoint saved.")
                return redirect("webhooks:endpoint_detail", request.organization.slug, endpoint.pk)
    status = request.GET.get("status", "")
    if status not in ("", "pending", "succeeded", "failed"):
        status = ""
    deliveries = selectors.delivery_list(
        organization=request.organization, endpoint=endpoint, status=status
    )
    page = Paginator(deliveries, 25).get_page(request.GET.get("page"))
    context = portal_context(
        request,
        nav="webhooks",
        endpoint=endpoint,
        form=form,
        can_manage=can_manage,
        new_secret=new_secret,
        page=page,
        status=status,
        event_types=EVENT_TYPES,
    )
    return render(request, "webhooks/endpoint_detail.html", context)


@require_POST
@org_view
def endpoint_action(request, endpoint_id):
    """Turn off / on, send a test event, rotate the secret, delete."""
    endpoint = _endpoint_or_404(request, endpoint_id)
    slug = request.organization.slug
    if not can_manage_hosting(request.membership):
        messages.error(request, NOT_ALLOWED)
        return redirect("webhooks:endpoint_detail", slug, endpoint.pk)
    action = request.POST.get("action")
    common = {
        "actor": request.actor,
        "organization": request.organization,
        "endpoint_id": endpoint.pk,
    }
    if action == "delete":
        if run_service(request, None, lambda: services.endpoint_delete(**common) or True):
            messages.success(request, f"Webhook endpoint {endpoint.url} deleted.")
            return redirect("webhooks:endpoint_list", slug)
    elif action in ("enable", "disable"):
        if run_service(
            request, None, lambda: services.endpoint_update(**common, enabled=action == "enable")
        ):
            messages.success(
                request,
                "Endpoint turned on; waiting events go out now."
                if action == "enable"
                else "Endpoint turned off; new events wait until you turn it on again.",
            )
    elif action == "test":
        if run_service(request, None, lambda: services.endpoint_send_test(**common)):
            messages.success(request, "Test event queued; its delivery shows below in a moment.")
    elif action == "rotate":
        rotated = run_service(request, None, lambda: services.endpoint_secret_rotate(**common))
        if rotated:
            request.session["webhook_secret"] = {"id": endpoint.pk, "secret": rotated[1]}
            messages.success(
                request, "New signing secret made; the old one no longer signs anything."
            )
    return redirect("webhooks:endpoint_detail", slug, endpoint.pk)


@require_POST
@org_view
def delivery_resend(request, endpoint_id, delivery_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    if not can_manage_hosting(request.membership):
        messages.error(request, NOT_ALLOWED)
    elif not endpoint.deliveries.filter(pk=delivery_id).exists():
        raise Http404
    elif run_service(
        request,
        None,
        lambda: services.delivery_resend(
            actor=request.actor, organization=request.organization, delivery_id=delivery_id
        ),
    ):
        messages.success(request, "Delivery queued again.")
    return redirect("webhooks:endpoint_detail", request.organization.slug, endpoint.pk)
