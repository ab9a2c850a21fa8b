from celery import shared_task

from mailherd.notifications.selectors import announcement_list_due_for_email
from mailherd.notifications.services import announcement_email_send


@shared_task
def announcement_emails_task() -> int:
    """Email every announcement that asked for it and has started; return how many emails."""
    return sum(
        announcement_email_send(announcement_id=pk)
        for pk in announcement_list_due_for_email().values_list("pk", flat=True)
    )
