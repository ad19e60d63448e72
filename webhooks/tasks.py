"""Celery tasks of the relay (see webhooks.relay): one subscription's run, and the sweep
the beat scheduler sends every WEBHOOKS_SWEEP_SECONDS."""

from __future__ import annotations

from celery import shared_task

from webhooks import relay


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def deliver(subscription_id: str) -> int:
    """Send one subscription's due deliveries in order; returns the attempts made (0 when
    another worker holds its lease, or nothing is due)."""
    return relay.deliver_subscription(subscription_id).attempts


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def sweep() -> int:
    """Queue a run for each subscription with a due delivery and no live lease: retries
    whose time has come, and the work of a worker that died. Returns how many."""
    return relay.sweep()
