from django import template

from mailherd.hosting import selectors

register = template.Library()


@register.filter
def mailbox_status(mailbox, organization) -> str:
    """The customer-facing status, from the one rule the API uses too."""
    return selectors.mailbox_status(mailbox, organization=organization)
