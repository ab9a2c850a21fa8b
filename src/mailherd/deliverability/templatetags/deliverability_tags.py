from django import template

from mailherd.deliverability import selectors

register = template.Library()


@register.simple_tag
def deliverability_open_alerts(organization, domain=None):
    return selectors.alert_list_open(organization=organization, domain=domain)


@register.simple_tag
def meter(passed: int, total: int):
    """A pass-share bar with its percentage (a tag, not an include: pages show hundreds)."""
    from django.utils.html import format_html

    pct = round(100 * passed / total) if total else 0
    return format_html(
        '<span class="meter{}"><svg viewBox="0 0 100 6" preserveAspectRatio="none" aria-hidden="true">'
        '<rect class="fail" width="100" height="6" rx="2"/><rect class="pass" width="{}" height="6" rx="2"/>'
        "</svg><b>{} %</b></span>",
        " low" if pct < 98 else "",
        pct,
        pct,
    )
