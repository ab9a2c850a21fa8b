from celery import shared_task

from mailherd.mailcow.models import MailServer
from mailherd.mailcow.services import mail_server_health_check


@shared_task
def mail_server_health_check_task() -> int:
    """Check every active server; return how many are healthy."""
    return sum(
        mail_server_health_check(server=server)
        for server in MailServer.objects.filter(is_active=True)
    )
