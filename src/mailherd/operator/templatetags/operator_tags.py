from django import template

from mailherd.operator.confirm import EFFECTS

register = template.Library()


@register.simple_tag
def deletion_effects(opts) -> list[str]:
    """What deleting an object of this model does on Mailcow and to mail (empty: nothing there)."""
    return EFFECTS.get(opts.label_lower, [])
