from django import template

from mailherd.notifications.selectors import announcement_list_active, markdown_render

register = template.Library()


@register.simple_tag(takes_context=True)
def active_announcements(context):
    """The announcements to show on this page (uses `organization` and `request.user`)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return announcement_list_active(organization=context.get("organization"), user=user)


@register.filter
def markdown(text):
    return markdown_render(text)
