"""Outgoing email: rendered from subject/text/html templates that share a name."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from mailherd.notifications.models import NotificationLog

logger = logging.getLogger(__name__)


def email_send(*, to: str, template: str, context: dict, organization=None) -> NotificationLog:
    """Render `emails/<template>_{subject.txt,body.txt,body.html}` and send it; log the outcome.

    Call after commit: a failed send is logged, never raised, so it cannot
    undo the change that caused it.
    """
    context = {
        "product_name": settings.MAILHERD_PRODUCT_NAME,
        "site_url": settings.SITE_URL,
        **context,
    }
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    text = render_to_string(f"emails/{template}_body.txt", context)
    html = render_to_string(f"emails/{template}_body.html", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    message.attach_alternative(html, "text/html")
    log = NotificationLog(to=to, template=template, subject=subject, organization=organization)
    try:
        message.send()
        log.status = NotificationLog.Status.SENT
    except Exception as exc:  # SMTP can fail in many ways; record, don't crash the caller
        logger.warning("email %s to %s failed: %s", template, to, exc)
        log.status = NotificationLog.Status.FAILED
        log.error = str(exc)
    log.save()
    return log
