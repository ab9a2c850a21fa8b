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


@register.inclusion_tag("hosting/_dkim.html", takes_context=True)
def dkim_card(context, domain):
    from datetime import timedelta

    from django.conf import settings

    from mailherd.hosting.services.dkim_rotation import dkim_key_bits, dkim_rotation_open

    rotation = dkim_rotation_open(domain=domain)
    keep_until = None
    if rotation is not None and rotation.switched_at:
        keep_until = rotation.switched_at + timedelta(
            days=settings.MAILHERD_DKIM_ROTATION_OVERLAP_DAYS
        )
    return {
        "domain": domain,
        "bits": dkim_key_bits(domain.dkim_private_key),
        "rotation": rotation,
        "keep_until": keep_until,
        "schedule_days": settings.MAILHERD_DKIM_ROTATION_DAYS,
        "overlap_days": settings.MAILHERD_DKIM_ROTATION_OVERLAP_DAYS,
        "organization": context["organization"],
        "can_change": context.get("can_change"),
        "csrf_token": context.get("csrf_token"),
    }
