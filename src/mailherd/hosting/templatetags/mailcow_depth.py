"""Cards for Mailcow's deeper settings on the mailbox and domain pages."""

from django import template
from django.urls import reverse

from mailherd.hosting.forms import RateLimitForm
from mailherd.hosting.services.ratelimits import effective_rate_limit, plan_rate_limit

register = template.Library()


@register.inclusion_tag("hosting/_rate_limit.html", takes_context=True)
def rate_limit_card(context, obj, scope: str):
    organization = context["organization"]
    plan = organization.plan
    if scope == "mailbox":
        action = reverse("hosting:mailbox_rate_limit", args=[organization.slug, obj.address])
    else:
        action = reverse("hosting:domain_rate_limit", args=[organization.slug, obj.name])
    return {
        "scope": scope,
        "effective": effective_rate_limit(obj, plan, scope),
        "plan_limit": plan_rate_limit(plan, scope),
        "plan": plan,
        "form": RateLimitForm.for_object(obj),
        "action": action,
        "can_change": context.get("can_change"),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("hosting/_relay.html", takes_context=True)
def relay_card(context, domain):
    from mailherd.hosting.services.relays import relay_choices
    from mailherd.mailcow.relays import effective_relay

    organization = context["organization"]
    return {
        "domain": domain,
        "via": effective_relay(domain),
        "choices": list(relay_choices(organization=organization)),
        "plan": organization.plan,
        "organization": organization,
        "can_change": context.get("can_change"),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("hosting/_spam.html", takes_context=True)
def spam_card(context, mailbox):
    organization = context["organization"]
    return {
        "mailbox": mailbox,
        "organization": organization,
        "intervals": [("never", "never"), ("hourly", "hourly"), ("daily", "daily"), ("weekly", "weekly")],
        "categories": [
            ("reject", "refused mail"),
            ("add_header", "mail moved to Junk"),
            ("all", "both"),
        ],
        "can_change": context.get("can_change"),
        "csrf_token": context.get("csrf_token"),
    }
