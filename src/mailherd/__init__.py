"""Mailherd: email hosting as a service on top of Mailcow."""

# Load the Celery app with Django so that @shared_task binds to it.
from mailherd.celery import app as celery_app

__all__ = ["celery_app"]
__version__ = "0.1.0"
