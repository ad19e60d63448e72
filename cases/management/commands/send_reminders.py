"""The officers' reminders and overdue lists, for installs without Celery beat: run it
once a day from cron (`manage.py send_reminders`)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from cases import tasks


class Command(BaseCommand):
    help = "Mail each officer their cases falling due soon and their overdue cases (once a day)."

    def handle(self, *args: Any, **options: Any) -> None:
        reminders = tasks.send_due_reminders()
        digests = tasks.send_overdue_digest()
        self.stdout.write(f"Sent {reminders} due-date reminder(s) and {digests} overdue list(s).")
