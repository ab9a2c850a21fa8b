from django import template

from mailherd.deliverability import selectors

register = template.Library()


@register.simple_tag
def deliverability_open_alerts(organization, domain=None):
    return selectors.alert_list_open(organization=organization, domain=domain)
