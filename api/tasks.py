"""Background work of the API: forgetting Idempotency-Keys past their expiry."""

from __future__ import annotations

import logging

from celery import shared_task

from api.idempotency import purge_expired

logger = logging.getLogger(__name__)


@shared_task  # type: ignore[untyped-decorator]
def purge_idempotency_keys() -> int:
    """Delete the Idempotency-Key records past their expiry; returns how many."""
    deleted = purge_expired()
    logger.info("idempotency: %s expired record(s) purged", deleted)
    return deleted
