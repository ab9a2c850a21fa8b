"""The Celery app; configured from Django settings (CELERY_* names)."""

import os
import warnings

from celery import Celery
from celery.exceptions import SecurityWarning

# Containers run as root; the embedded worker accepts only JSON, so the warning (and
# its dozen lines on every start) says nothing an operator can act on.
warnings.filterwarnings("ignore", category=SecurityWarning)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailherd.settings")

app = Celery("mailherd")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
