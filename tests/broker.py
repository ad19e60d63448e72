"""Tests that send Celery tasks to a real broker point the web side at it here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def broker_for_this_test(settings: Any, url: str, queue: str | None = None) -> Iterator[None]:
    """Point the web side at `url` (and `queue`), with fresh connection pools, and put
    everything back afterwards: Celery caches its pools across the suite."""
    from backend.celery import app

    def reset_pools() -> None:
        app._pool = None
        if "amqp" in app.__dict__:
            app.amqp._producer_pool = None

    saved = (app.conf.broker_url, app.conf.task_default_queue)
    settings.CELERY_BROKER_URL = app.conf.broker_url = url
    if queue:
        app.conf.task_default_queue = queue
    reset_pools()
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.task_default_queue = saved
        reset_pools()
