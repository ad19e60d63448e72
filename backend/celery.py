"""The Celery application. Used only when CELERY_BROKER_URL is set; without a broker the
same work runs in the web process right after the transaction commits (see
cases/notifications.py), so `make run` needs nothing else."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

app = Celery("ipsupport")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
