from django import template

register = template.Library()


@register.filter
def cents(value) -> str:
    """900 → "9.00"; amounts are kept in cents everywhere."""
    try:
        return f"{int(value) / 100:,.2f}"
    except (TypeError, ValueError):
        return ""


@register.simple_tag
def suspension_notice(organization):
    """The portal banner's message for a suspended organization (one per stage, with dates)."""
    from mailherd.billing.selectors import suspension_notice as notice

    return notice(organization=organization) if organization is not None else None

