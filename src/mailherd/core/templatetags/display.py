"""Display filters used on every page (a template builtin: no {% load %} needed)."""

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from mailherd.core import units

register = template.Library()
register.filter("bytes_human", units.bytes_human)
register.filter("mib_human", units.mib_human)


@register.filter
def host_breaks(name) -> str:
    """A host name that may wrap after its dots, never inside a label ("_dmarc.<wbr>example.<wbr>com")."""
    return mark_safe(escape(name or "").replace(".", ".<wbr>"))  # noqa: S308 (escaped first)


@register.filter
def ago(moment) -> str:
    """ "just now", "3 minutes ago", "2 days ago" (never "0 minutes ago")."""
    from django.contrib.humanize.templatetags.humanize import naturaltime
    from django.utils import timezone

    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return naturaltime(moment)
