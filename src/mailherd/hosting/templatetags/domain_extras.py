"""Cards for alias domains and the allow/block lists on the domain page."""

from django import template

from mailherd.hosting.models import DomainPolicy

register = template.Library()


@register.inclusion_tag("hosting/_alias_domains.html", takes_context=True)
def alias_domains_card(context, domain):
    return {
        "domain": domain,
        "alias_domains": list(domain.alias_domains.order_by("name")),
        "organization": context["organization"],
        "can_change": context.get("can_change"),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("hosting/_domain_policy.html", takes_context=True)
def domain_policy_card(context, domain):
    entries = list(domain.policies.all())
    return {
        "domain": domain,
        "allow": [e for e in entries if e.list == DomainPolicy.List.ALLOW],
        "block": [e for e in entries if e.list == DomainPolicy.List.BLOCK],
        "organization": context["organization"],
        "can_change": context.get("can_change"),
        "csrf_token": context.get("csrf_token"),
    }
