from django import template

register = template.Library()


@register.filter
def cents(value) -> str:
    """900 → "9.00"; amounts are kept in cents everywhere."""
    try:
        return f"{int(value) / 100:,.2f}"
    except (TypeError, ValueError):
        return ""
