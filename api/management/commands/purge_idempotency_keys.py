"""`manage.py purge_idempotency_keys`: delete the Idempotency-Key records past their expiry
(cron, where no Celery beat runs; the beat task does the same every hour)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from api.idempotency import purge_expired


class Command(BaseCommand):
    help = "Delete the Idempotency-Key records past their expiry (IDEMPOTENCY_KEY_TTL_HOURS after the response)."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = purge_expired()
        self.stdout.write(f"{deleted} expired idempotency record(s) deleted.")
