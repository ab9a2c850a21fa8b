"""Outgoing email: rendered from subject/text/html templates that share a name, with the operator's branding."""

import json
import logging

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from mailherd.core.actors import Actor
from mailherd.core.audit import audit_record
from mailherd.core.crypto import decrypt, encrypt
from mailherd.core.errors import NotFound
from mailherd.notifications.models import Announcement, NotificationLog

logger = logging.getLogger(__name__)


def _context_seal(context: dict) -> dict:
    """Keep the caller's context for a later resend, encrypted: it may hold invitation links."""
    return {"sealed": encrypt(json.dumps(context, default=str))}


def _context_open(stored: dict) -> dict:
    if "sealed" in stored:
        return json.loads(decrypt(stored["sealed"]))
    return dict(stored)


def _render_plain(name: str, context: dict) -> str:
    """Render a template without HTML escaping: a subject is plain text ("A & B", not "A &amp; B")."""
    from django.template import Context, engines

    template = engines["django"].engine.get_template(name)
    return template.render(Context(context, autoescape=False))


def email_send(*, to: str, template: str, context: dict, organization=None) -> NotificationLog:
    """Render `emails/<template>_{subject.txt,body.txt,body.html}` and send it; log the outcome.

    Templates get `branding` (mailherd.operator.models.Branding), `product_name`,
    `site_url` and `support_email` from the operator's branding; the sender is
    the branding's. Call after commit: a failed send is logged, never raised, so
    it cannot undo the change that caused it.
    """
    from mailherd.operator.selectors import branding_get

    branding = branding_get()
    full_context = {
        "branding": branding,
        "product_name": branding.product_name,
        "site_url": branding.site_url,
        "support_email": branding.support_email,
        **context,
    }
    subject = " ".join(_render_plain(f"emails/{template}_subject.txt", full_context).split())
    text = render_to_string(f"emails/{template}_body.txt", full_context)
    html = render_to_string(f"emails/{template}_body.html", full_context)
    message = EmailMultiAlternatives(subject, text, branding.email_from, [to])
    message.attach_alternative(html, "text/html")
    log = NotificationLog(
        to=to,
        template=template,
        subject=subject,
        organization=organization,
        context=_context_seal(context),
    )
    try:
        message.send()
        log.status = NotificationLog.Status.SENT
    except Exception as exc:  # SMTP can fail in many ways; record, don't crash the caller
        logger.warning("email %s to %s failed: %s", template, to, exc)
        log.status = NotificationLog.Status.FAILED
        log.error = str(exc)
    log.save()
    return log


def notification_resend(*, actor: Actor, log_id: int) -> NotificationLog:
    """Send a logged email again, from the same template and context; return the new log row."""
    original = NotificationLog.objects.select_related("organization").filter(pk=log_id).first()
    if original is None:
        raise NotFound("No such email in the log.")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="notification.resend",
            organization=original.organization,
            obj=original,
            data={"log_id": original.pk, "to": original.to},
        )
    return email_send(
        to=original.to,
        template=original.template,
        context=_context_open(original.context or {}),
        organization=original.organization,
    )


def announcement_email_send(*, announcement_id: int) -> int:
    """Email an announcement once to the owners and admins of its audience; return how many.

    Claimed with a conditional UPDATE so that two workers never both send it.
    """
    from mailherd.notifications.selectors import announcement_recipients, markdown_render

    claimed = Announcement.objects.filter(pk=announcement_id, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    if claimed != 1:
        return 0
    announcement = Announcement.objects.get(pk=announcement_id)
    sent = 0
    for email, organization in announcement_recipients(announcement=announcement):
        email_send(
            to=email,
            template="announcement",
            context={
                "title": announcement.title,
                "body_text": announcement.body,
                "body_html": str(markdown_render(announcement.body)),
                "severity": announcement.get_severity_display(),
            },
            organization=organization,
        )
        sent += 1
    return sent


def announcement_dismiss(*, user, announcement_id: int) -> None:
    """Hide a dismissible announcement for `user` (idempotent; unknown or permanent: ignored)."""
    from mailherd.notifications.models import AnnouncementDismissal

    announcement = Announcement.objects.filter(pk=announcement_id, dismissible=True).first()
    if announcement is not None:
        AnnouncementDismissal.objects.get_or_create(announcement=announcement, user=user)
