"""The relay: sends each subscription's pending deliveries, one at a time, in order.

Who runs it. `kick` (called after the commit that wrote deliveries) queues one Celery
task per subscription; the beat task `webhooks.tasks.sweep` (every WEBHOOKS_SWEEP_SECONDS)
queues one for every subscription whose oldest pending delivery is due and whose lease is
free, which is how retries happen and how the work of a worker that died is picked up.
Without a broker nothing is sent from the web process: `manage.py deliver_webhooks`
(once, from cron, or `--loop`) runs the same loop in its own process.

One worker per subscription. A run takes the subscription's lease with a guarded UPDATE
(free or expired → now + WEBHOOKS_LEASE_SECONDS, with a token of its own), renews it
before each delivery and releases it at the end. A worker killed in the middle of a
delivery leaves a lease that runs out; the sweep then hands the subscription to another
worker, which sends that delivery again, with the same webhook-id: delivery is at least
once, and receivers drop duplicates by webhook-id.

In order. A run always takes the oldest pending delivery (by message id). When that one
is not due yet (it failed and waits for its retry), the run stops: later messages wait
behind it rather than overtake it.

Retries. A failed attempt (no answer, a timeout, any status other than 2xx) is tried
again after WEBHOOKS_BACKOFF_BASE_SECONDS × 3^(n−1), at most WEBHOOKS_BACKOFF_MAX_SECONDS,
±20% jitter; with the defaults (30 s, one day, WEBHOOKS_MAX_ATTEMPTS = 11) the retries
come after about 30 s, 1.5 min, 4.5 min, 13.5 min, 40 min, 2 h, 6 h, 18 h, 24 h and 24 h:
about three days and three hours from the first attempt to the last. A Retry-After
(seconds or an HTTP date) replaces the computed delay, up to WEBHOOKS_RETRY_AFTER_MAX_SECONDS.
After the last attempt the delivery is `failed` and the next message's turn comes. A 410
Gone disables the subscription at once; so do WEBHOOKS_DISABLE_AFTER_FAILURES failed
attempts in a row (by default one more than a whole schedule: the oldest message used up
its three days and the next one failed too). A disabled subscription keeps its pending
deliveries; enabling it again sends them.

Nothing goes to a disabled subscription or a deactivated partner (checked with the lease,
before every delivery), nor about an enterprise that has since withdrawn the partner's
authorisation (that delivery is marked failed, unsent).

A signing secret that no key decrypts (WEBHOOKS_ENCRYPTION_KEY, or SECRET_KEY and its
fallbacks, changed) is our fault, not the receiver's: nothing is sent, no attempt is
recorded or counted against the subscription, an error is logged, and the run stops with
the delivery pending, so it goes once the key is put back.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from partners.models import Access, Authorisation, Partner
from webhooks import http, signing
from webhooks.models import Attempt, Delivery, DeliveryStatus, Subscription

logger = logging.getLogger(__name__)

BACKOFF_FACTOR = 3
JITTER = 0.2
# Deliveries one run sends before it hands the worker over (and queues itself again), so a
# subscription with a long backlog does not hold a worker while others wait.
RUN_BUDGET = 50
_jitter = random.Random()  # noqa: S311  (spreads retries; not a secret)


# --- Queueing ---------------------------------------------------------------------------------


def _task_options() -> dict[str, Any]:
    options: dict[str, Any] = {"retry": False}  # an unreachable broker: the sweep sends them later
    if settings.WEBHOOKS_QUEUE:
        options["queue"] = settings.WEBHOOKS_QUEUE
    return options


class _Broker:
    # After a failure to reach the broker, kicks are skipped for a while in this process:
    # finding out again costs seconds (the client's own retries), in the request that
    # committed the change. The deliveries wait in the database for the sweep.
    PAUSE_SECONDS = 30.0
    down_until = 0.0


def kick(subscription_ids: Iterable[uuid.UUID | str]) -> int:
    """Queue a run for each subscription on the Celery workers; returns how many were
    queued. Without a broker, or when it cannot be reached, nothing happens here: the
    deliveries are in the database, and the sweep (or `manage.py deliver_webhooks`)
    sends them. Webhooks are never sent from a web request."""
    if not settings.CELERY_BROKER_URL or time.monotonic() < _Broker.down_until:
        return 0
    from webhooks.tasks import deliver  # the tasks module imports this one

    queued = 0
    for subscription_id in dict.fromkeys(str(pk) for pk in subscription_ids):
        try:
            deliver.apply_async(args=[subscription_id], **_task_options())
        except Exception:  # kombu's OperationalError and friends: the broker is down
            _Broker.down_until = time.monotonic() + _Broker.PAUSE_SECONDS
            logger.warning("webhooks: broker unreachable, %s waits for the sweep", subscription_id, exc_info=True)
            break
        queued += 1
    return queued


def _head_due_at() -> Subquery:
    head = Delivery.objects.filter(subscription_id=OuterRef("pk"), status=DeliveryStatus.PENDING).order_by("message_id")
    return Subquery(head.values("next_attempt_at")[:1])


def _active_partner() -> Exists:
    return Exists(Partner.objects.filter(pk=OuterRef("partner_id"), is_active=True))


def due_subscriptions(*, now: dt.datetime | None = None) -> QuerySet[Subscription]:
    """Active subscriptions of active partners, with no live lease, whose oldest pending
    delivery is due."""
    moment = now or timezone.now()
    return (
        Subscription.objects.filter(is_active=True)
        .filter(_active_partner())
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=moment))
        .annotate(head_due_at=_head_due_at())
        .filter(head_due_at__lte=moment)
        .order_by("head_due_at", "pk")
    )


def sweep() -> int:
    """Queue a run for every subscription that has a due delivery and nobody sending it."""
    return kick(due_subscriptions().values_list("pk", flat=True))


def deliver_due() -> int:
    """Send, in this process, everything that is due (`manage.py deliver_webhooks`);
    returns the number of attempts made."""
    attempts = 0
    while True:
        round_attempts = sum(
            deliver_subscription(pk).attempts for pk in due_subscriptions().values_list("pk", flat=True)
        )
        attempts += round_attempts
        if not round_attempts:
            return attempts


# --- One subscription's run ----------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    attempts: int
    budget_spent: bool


def _lease_deadline() -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=settings.WEBHOOKS_LEASE_SECONDS)


def _acquire(subscription_id: uuid.UUID | str, token: uuid.UUID) -> bool:
    # Every condition is on the updated row itself (Exists, not a join, which Django would
    # turn into `pk IN (subquery)`): PostgreSQL re-checks them against the row a concurrent
    # UPDATE wrote, so two workers cannot both take a free lease.
    now = timezone.now()
    return bool(
        Subscription.objects.filter(pk=subscription_id, is_active=True)
        .filter(_active_partner())
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=_lease_deadline(), lease_token=token)
    )


def _renew(subscription_id: uuid.UUID | str, token: uuid.UUID) -> bool:
    """Extend our lease; False when it was lost, or the subscription or its partner was
    deactivated meanwhile."""
    return bool(
        Subscription.objects.filter(pk=subscription_id, lease_token=token, is_active=True)
        .filter(_active_partner())
        .update(lease_until=_lease_deadline())
    )


def _release(subscription_id: uuid.UUID | str, token: uuid.UUID) -> None:
    Subscription.objects.filter(pk=subscription_id, lease_token=token).update(lease_until=None, lease_token=None)


def _head(subscription_id: uuid.UUID | str) -> Delivery | None:
    return (
        Delivery.objects.filter(subscription_id=subscription_id, status=DeliveryStatus.PENDING)
        .select_related("message", "subscription__partner")
        .order_by("message_id")
        .first()
    )


def _head_is_due(subscription_id: uuid.UUID | str) -> bool:
    head = (
        Delivery.objects.filter(subscription_id=subscription_id, status=DeliveryStatus.PENDING)
        .order_by("message_id")
        .values_list("next_attempt_at", flat=True)[:1]
    )
    return any(when is None or when <= timezone.now() for when in head)


def deliver_subscription(subscription_id: uuid.UUID | str, *, budget: int = RUN_BUDGET) -> RunResult:
    """Send `subscription_id`'s due deliveries in order, up to `budget` attempts, if no
    other worker holds its lease. With budget left and nothing due, it stops; with the
    budget spent and more due, a broker gets a new run queued for later."""
    token = uuid.uuid4()
    attempts = 0
    while attempts < budget:
        if not _acquire(subscription_id, token):
            break  # another worker has it (or it was deactivated)
        try:
            made, stuck = _drain(subscription_id, token, budget - attempts)
        finally:
            _release(subscription_id, token)
        attempts += made
        # A delivery committed while we held the lease may have had its run turned away:
        # look again after releasing, so it does not wait for the sweep.
        if stuck or not _head_is_due(subscription_id):
            return RunResult(attempts=attempts, budget_spent=False)
    spent = attempts >= budget
    if spent and _head_is_due(subscription_id):
        kick([subscription_id])
    return RunResult(attempts=attempts, budget_spent=spent)


def _drain(subscription_id: uuid.UUID | str, token: uuid.UUID, budget: int) -> tuple[int, bool]:
    """The attempts made, and whether the run is stuck (the signing secret is unreadable)."""
    attempts = 0
    while attempts < budget and _renew(subscription_id, token):
        delivery = _head(subscription_id)
        if delivery is None:
            break
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > timezone.now():
            break  # the oldest waits for its retry; the later ones wait behind it
        if not _attempt(delivery):
            return attempts, True
        attempts += 1
    return attempts, False


# --- One attempt ------------------------------------------------------------------------------------


def body_of(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def signing_secrets(subscription: Subscription, *, now: dt.datetime | None = None) -> list[str]:
    """The current secret, and the previous one while its day of grace lasts (unless it
    cannot be decrypted: a partner who rotated after a lost key is not held back a day).
    Raises signing.SecretUnreadable when the current one cannot be."""
    found = [signing.decrypt(subscription.secret_encrypted)]
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret_encrypted and expires is not None and expires > (now or timezone.now()):
        try:
            found.append(signing.decrypt(subscription.previous_secret_encrypted))
        except signing.SecretUnreadable:
            logger.warning(
                "webhooks: subscription %s signs with its current secret only: no key decrypts the previous one",
                subscription.pk,
            )
    return found


def backoff_seconds(retry: int, *, rng: random.Random | None = None) -> float:
    """The delay before retry number `retry` (1 for the first retry), with jitter."""
    base = float(settings.WEBHOOKS_BACKOFF_BASE_SECONDS)
    growth = float(BACKOFF_FACTOR) ** min(max(retry - 1, 0), 40)
    delay = min(base * growth, float(settings.WEBHOOKS_BACKOFF_MAX_SECONDS))
    return delay * (rng or _jitter).uniform(1 - JITTER, 1 + JITTER)


def still_reaches(delivery: Delivery) -> bool:
    """The partner may still see what the message is about: an enterprise that withdrew
    its authorisation since the event is told nothing more about its cases."""
    partner = delivery.subscription.partner
    enterprise_id = delivery.message.enterprise_id
    if enterprise_id is None or partner.access == Access.ALL:
        return True
    return Authorisation.objects.live().filter(partner_id=partner.pk, enterprise_id=enterprise_id).exists()


def _attempt(delivery: Delivery) -> bool:
    """Send `delivery` once, or drop it if its enterprise no longer authorises the partner.
    False when nothing could be done: the secret cannot be decrypted; the delivery is left
    as it was."""
    subscription = delivery.subscription
    message = delivery.message
    started_at = timezone.now()
    if not still_reaches(delivery):
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED,
            next_attempt_at=None,
            last_error="not sent: the enterprise no longer authorises this partner",
        )
        logger.info(
            "webhooks: %s to subscription %s dropped: no longer authorised", message.webhook_id, subscription.pk
        )
        return True
    try:
        keys = signing_secrets(subscription, now=started_at)
    except signing.SecretUnreadable:
        # Not the receiver's failure: no attempt, nothing counted; it waits for the key.
        logger.error(
            "webhooks: %s to subscription %s not sent: no key decrypts its signing secret (WEBHOOKS_ENCRYPTION_KEY,"
            " or SECRET_KEY without the previous one in SECRET_KEY_FALLBACKS, changed); it stays pending",
            message.webhook_id,
            subscription.pk,
        )
        return False
    body = body_of(message.payload)
    headers = signing.headers_for(
        signing_secrets=keys, webhook_id=message.webhook_id, timestamp=int(time.time()), body=body
    )
    outcome = http.post(subscription.url, body=body, headers=headers)
    _record(delivery, outcome, started_at=started_at)
    log = logger.info if outcome.ok else logger.warning
    log(
        "webhooks: %s to subscription %s, attempt %s: %s",
        message.webhook_id,
        subscription.pk,
        delivery.attempt_count + 1,
        outcome.status_code or outcome.error,
    )
    return True


def _retry_delay(outcome: http.Outcome, retry: int) -> float:
    if outcome.retry_after is not None:
        return min(outcome.retry_after, float(settings.WEBHOOKS_RETRY_AFTER_MAX_SECONDS))
    return backoff_seconds(retry)


@transaction.atomic
def _record(delivery: Delivery, outcome: http.Outcome, *, started_at: dt.datetime) -> None:
    """The attempt's row, the delivery's new state, and the subscription's failure count
    (which may disable it), in one transaction."""
    now = timezone.now()
    number = delivery.attempt_count + 1
    common = {
        "attempt_count": F("attempt_count") + 1,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
    }
    next_attempt_at: dt.datetime | None = None
    subscription_id = delivery.subscription_id
    if outcome.ok:
        changes: dict[str, Any] = {**common, "status": DeliveryStatus.DELIVERED, "delivered_at": now}
        changes["next_attempt_at"] = None
    elif outcome.status_code == 410:
        # The receiver says the endpoint is gone for good: stop, keep the delivery for when
        # (if ever) the partner enables the subscription again.
        changes = {**common, "next_attempt_at": now}
    elif number - delivery.schedule_start >= settings.WEBHOOKS_MAX_ATTEMPTS:
        changes = {**common, "status": DeliveryStatus.FAILED, "next_attempt_at": None}
    else:
        next_attempt_at = now + dt.timedelta(seconds=_retry_delay(outcome, number - delivery.schedule_start))
        changes = {**common, "next_attempt_at": next_attempt_at}
    still_there = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(**changes)
    if not still_there and not Delivery.objects.filter(pk=delivery.pk).exists():
        return  # the subscription was deleted while we were sending
    Attempt.objects.create(
        delivery_id=delivery.pk,
        number=number,
        started_at=started_at,
        duration_ms=outcome.duration_ms,
        status_code=outcome.status_code,
        error=outcome.error,
        response_excerpt=outcome.excerpt,
        next_attempt_at=next_attempt_at,
        redelivery=delivery.redelivered_at is not None,
    )
    if outcome.ok:
        Subscription.objects.filter(pk=subscription_id, consecutive_failures__gt=0).update(consecutive_failures=0)
        return
    Subscription.objects.filter(pk=subscription_id).update(consecutive_failures=F("consecutive_failures") + 1)
    failures = Subscription.objects.filter(pk=subscription_id).values_list("consecutive_failures", flat=True).first()
    if outcome.status_code == 410:
        _disable(subscription_id, "The receiver answered 410 Gone.", now=now)
    elif failures is not None and failures >= settings.WEBHOOKS_DISABLE_AFTER_FAILURES:
        _disable(subscription_id, f"{failures} failed attempts in a row.", now=now)


def _disable(subscription_id: uuid.UUID | str, reason: str, *, now: dt.datetime) -> None:
    disabled = Subscription.objects.filter(pk=subscription_id, is_active=True).update(
        is_active=False, disabled_reason=reason, disabled_at=now
    )
    if disabled:
        logger.warning("webhooks: subscription %s disabled: %s", subscription_id, reason)
