"""Billing pages of the portal and the Stripe webhook endpoint. Thin: selectors and services only."""

import logging

import stripe
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from mailherd.billing import conf, services
from mailherd.billing.errors import BillingUnavailable
from mailherd.billing.forms import CardConfirmForm
from mailherd.billing.selectors import invoice_list, plan_choices, subscription_get
from mailherd.billing.webhooks import webhook_event_receive
from mailherd.core.errors import MailherdError
from mailherd.plans.models import Plan
from mailherd.portal.base import org_view, portal_context, run_service
from mailherd.tenancy.selectors import can_manage_billing

logger = logging.getLogger(__name__)


def _context(request, **extra):
    from mailherd.billing.manual import plan_request_pending

    subscription = subscription_get(organization=request.organization)
    manual = conf.billing_mode() == "manual"
    return portal_context(
        request,
        subscription=subscription,
        billing_enabled=conf.billing_enabled(),
        manual_billing=manual,
        pending_request=plan_request_pending(organization=request.organization) if manual else None,
        can_manage=can_manage_billing(request.membership),
        nav="billing",
        **extra,
    )


CHOSEN_PLAN_SESSION_KEY = "billing_chosen_plan"


def plan_start(request, plan_slug):
    """The landing page's "Choose <plan>": remember the plan, then sign up (or sign in)."""
    from django.urls import reverse

    if Plan.objects.filter(slug=plan_slug, is_public=True, is_retired=False).exists():
        request.session[CHOSEN_PLAN_SESSION_KEY] = plan_slug
    if request.user.is_authenticated:
        return redirect("portal:home")
    return redirect(reverse("account_signup") + f"?plan={plan_slug}")


def chosen_plan_follow_up(request, organization) -> str:
    """After a new organization is created: act on the plan chosen on the landing page.

    Stripe: the card page, which subscribes once the card is saved. Manual: a plan
    request for the operator to approve. Return where to go next ("" for the dashboard).
    """
    from mailherd.billing.manual import plan_request_create
    from mailherd.tenancy.models import Membership

    plan_slug = request.session.pop(CHOSEN_PLAN_SESSION_KEY, "") or ""
    if not plan_slug or plan_slug == organization.plan.slug and conf.billing_mode() == "manual":
        return ""
    if conf.billing_mode() == "stripe":
        return f"/o/{organization.slug}/billing/card/?plan={plan_slug}"
    membership = Membership.objects.select_related("organization").get(
        organization=organization, user=request.user
    )
    try:
        done = plan_request_create(
            actor=request.actor if hasattr(request, "actor") else _actor(request),
            membership=membership,
            plan_slug=plan_slug,
        )
    except MailherdError as exc:
        messages.error(request, exc.message)
        return ""
    if done is not None:
        messages.info(
            request,
            f"Your request for the {done.plan.name} plan is waiting for approval by"
            " your provider.",
        )
    return ""


def _actor(request):
    from mailherd.core.actors import Actor, client_ip

    return Actor.for_user(request.user, ip=client_ip(request))


@org_view
def overview(request):
    context = _context(request)
    context["open_invoices"] = [
        i for i in invoice_list(organization=request.organization) if i.status == "open"
    ]
    context["now"] = timezone.now()
    subscription = context["subscription"]
    if subscription is not None and subscription.in_dunning:
        context["suspend_on"] = subscription.dunning_started_at + conf.grace_period()
    return render(request, "billing/overview.html", context)


@org_view
def plans(request):
    context = _context(request)
    context["choices"] = plan_choices(
        organization=request.organization,
        subscription=context["subscription"],
        manual=context["manual_billing"],
    )
    return render(request, "billing/plans.html", context)


@require_POST
@org_view
def plan_choose(request, plan_slug):
    """Subscribe, reactivate or change plan; without a card, go and add one first.

    Manual billing: ask the operator for the plan (approved in the back office).
    """
    slug = request.organization.slug
    try:
        outcome, result = services.plan_choose(
            actor=request.actor, membership=request.membership, plan_slug=plan_slug
        )
    except services.CardNeeded:
        return redirect(f"/o/{slug}/billing/card/?plan={plan_slug}")
    except MailherdError as exc:
        messages.error(request, exc.message)
        return redirect("billing:plans", org_slug=slug)
    if outcome == "withdrawn":
        messages.success(request, "Your plan change request is withdrawn.")
    elif outcome == "requested":
        messages.success(
            request,
            f"Thank you! Your request for the {result.plan.name} plan is waiting for"
            " approval; you will see the new plan here once it is approved.",
        )
    elif outcome == "changed":
        messages.success(request, f"Your plan is now {result.plan.name}.")
    else:
        messages.success(request, _started_message(result))
    return redirect("billing:overview", org_slug=slug)


def _started_message(subscription) -> str:
    if subscription.status == "trialing" and subscription.trial_end:
        return f"Welcome to {subscription.plan.name}: your free trial runs until {subscription.trial_end:%Y-%m-%d}."
    return f"Subscribed to {subscription.plan.name}. Thank you!"


@org_view
def card(request):
    """Add or replace the card (Stripe Elements + SetupIntent), then subscribe if a plan was chosen."""
    plan_slug = request.GET.get("plan") or request.POST.get("plan") or ""
    plan = Plan.objects.filter(slug=plan_slug).first() if plan_slug else None
    form = CardConfirmForm(request.POST or None, initial={"plan": plan_slug})
    slug = request.organization.slug
    if request.method == "POST" and form.is_valid():
        done = run_service(
            request,
            form,
            lambda: services.card_update(
                actor=request.actor,
                membership=request.membership,
                setup_intent_id=form.cleaned_data["setup_intent"],
            ),
        )
        if done is not None:
            subscription = done
            if plan is not None and not subscription.is_live:
                started = run_service(
                    request,
                    form,
                    lambda: services.subscription_start(
                        actor=request.actor, membership=request.membership, plan_slug=plan.slug
                    ),
                )
                if started is not None:
                    messages.success(request, _started_message(started))
                    return redirect("billing:overview", org_slug=slug)
            else:
                messages.success(request, "Card saved.")
                return redirect("billing:overview", org_slug=slug)
    client_secret = ""
    if conf.billing_enabled() and can_manage_billing(request.membership):
        try:
            client_secret = services.card_setup_start(
                actor=request.actor, membership=request.membership
            )
        except MailherdError as exc:
            messages.error(request, exc.message)
    context = _context(
        request,
        form=form,
        plan=plan,
        client_secret=client_secret,
        stripe_js_url=conf.stripe_js_url(),
        publishable_key=settings.STRIPE_PUBLISHABLE_KEY or "pk_test_mailherd",
    )
    response = render(request, "billing/card.html", context)
    # The Stripe origin is read per request: the API base may be set after start-up (localstripe).
    stripe_origin = conf.stripe_origin()
    response._csp_update = {
        "script-src": [stripe_origin],
        "connect-src": [stripe_origin],
        "frame-src": [stripe_origin],
    }
    return response


@org_view
def invoices(request):
    context = _context(request, invoices=invoice_list(organization=request.organization))
    return render(request, "billing/invoices.html", context)


def _lifecycle(service, success: str):
    @require_POST
    @org_view
    def view(request):
        done = run_service(
            request, None, lambda: service(actor=request.actor, membership=request.membership)
        )
        if done:
            messages.success(request, success)
        return redirect("billing:overview", org_slug=request.organization.slug)

    return view


cancel = _lifecycle(
    services.subscription_cancel,
    "Your subscription will end at the end of the paid period. You can resume it until then.",
)
resume = _lifecycle(services.subscription_resume, "Your subscription continues.")
reactivate = _lifecycle(
    services.subscription_reactivate, "Welcome back! Your subscription is active again."
)


pay_now = _lifecycle(services.subscription_pay_now, "Payment received. Thank you!")


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe → Mailherd. 400 for a bad signature (nothing stored), 500 to get a retry."""
    from django.core.exceptions import RequestDataTooBig

    if not conf.billing_enabled():
        return HttpResponse("billing disabled", status=404)
    try:
        payload = request.body
    except RequestDataTooBig:  # over DATA_UPLOAD_MAX_MEMORY_SIZE: no Stripe event is that big
        return HttpResponseBadRequest("body too large")
    try:
        event = webhook_event_receive(
            payload=payload, signature=request.headers.get("Stripe-Signature", "")
        )
    except (ValueError, stripe.SignatureVerificationError):
        return HttpResponseBadRequest("invalid signature")
    except BillingUnavailable:
        return HttpResponse("stripe unavailable, retry later", status=503)
    except Exception:
        return HttpResponse("handler failed", status=500)
    return JsonResponse({"id": event.stripe_event_id, "status": event.status})
