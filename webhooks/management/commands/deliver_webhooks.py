"""Send partners' webhooks from this process: for installations without a Celery broker
(cron every minute, or `--loop` while developing)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from webhooks import relay


class Command(BaseCommand):
    help = (
        "Send every webhook delivery that is due, in order per subscription, then stop; with --loop, "
        "keep going (every WEBHOOKS_SWEEP_SECONDS) until interrupted. Needed only without a Celery broker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="Keep delivering until interrupted.")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds between two looks with --loop (default: WEBHOOKS_SWEEP_SECONDS).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        interval = options["interval"] if options["interval"] is not None else settings.WEBHOOKS_SWEEP_SECONDS
        while True:
            attempts = relay.deliver_due()
            if attempts or not options["loop"]:
                self.stdout.write(f"Made {attempts} delivery attempt(s).")
            if not options["loop"]:
                return
            time.sleep(max(float(interval), 0.1))
