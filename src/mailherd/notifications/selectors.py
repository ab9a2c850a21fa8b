"""Reads for notifications: active announcements, their audience, safe Markdown."""

import markdown as markdown_lib
import nh3
from django.db.models import Q
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from mailherd.notifications.models import Announcement

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "b",
    "i",
    "a",
    "ul",
    "ol",
    "li",
    "code",
    "pre",
    "blockquote",
    "h3",
    "h4",
    "hr",
}


def markdown_render(text: str) -> SafeString:
    """Render Markdown to HTML that is safe to embed: raw HTML, scripts and odd links are removed.

    >>> markdown_render("**Maintenance** <script>x</script> [docs](https://example.com)")
    '<p><strong>Maintenance</strong>  <a href="https://example.com" rel="noopener noreferrer">docs</a></p>'
    """
    html = markdown_lib.markdown(text or "", extensions=["sane_lists"])
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return mark_safe(cleaned)  # noqa: S308 - sanitised by nh3 just above


def announcement_list_active(*, organization=None, user=None):
    """Announcements showing now to `user` in `organization`, most severe first."""
    now = timezone.now()
    announcements = Announcement.objects.filter(starts_at__lte=now).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now)
    )
    audience = Q(audience=Announcement.Audience.EVERYONE)
    if organization is not None:
        audience |= Q(audience=Announcement.Audience.PLANS, plans=organization.plan_id)
    announcements = announcements.filter(audience)
    if user is not None and user.is_authenticated:
        announcements = announcements.exclude(dismissible=True, dismissals__user=user)
    order = {Announcement.Severity.CRITICAL: 0, Announcement.Severity.WARNING: 1}
    return sorted(
        announcements.distinct(), key=lambda a: (order.get(a.severity, 2), -a.starts_at.timestamp())
    )


def announcement_recipients(*, announcement) -> list[tuple[str, object]]:
    """(email, organization) of every owner and admin in the audience, each address once."""
    from mailherd.tenancy.models import Membership, Organization, Role

    memberships = Membership.objects.filter(
        role__in=[Role.OWNER, Role.ADMIN], user__is_active=True
    ).exclude(organization__status=Organization.Status.CLOSED)
    if announcement.audience == Announcement.Audience.PLANS:
        memberships = memberships.filter(organization__plan__in=announcement.plans.all())
    seen: dict[str, object] = {}
    for membership in memberships.select_related("user", "organization").order_by("pk"):
        seen.setdefault(membership.user.email.lower(), membership.organization)
    return list(seen.items())


def announcement_list_due_for_email():
    now = timezone.now()
    return Announcement.objects.filter(
        send_email=True, emailed_at__isnull=True, starts_at__lte=now
    ).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
