"""Writing the outbox: called by the case workflow in the transaction of every change.

`publish_case_event` turns a case event into a `Message` and one `Delivery` per
subscription that wants it and may see the case, then asks the relay (after commit) to
send them. Nothing here talks to the network: if the transaction rolls back, the message
and its deliveries were never there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from cases.models import Case, CaseEvent, CaseState
from partners.models import Access, Authorisation
from webhooks.models import Delivery, EventType, Message, Subscription


def event_type_for(event: CaseEvent) -> EventType:
    if event.action == "document_upload":
        return EventType.CASE_DOCUMENT_ADDED
    if event.action == "milestone":
        return EventType.CASE_MILESTONE_RECORDED
    if event.from_state != event.to_state:
        return EventType.CASE_STATE_CHANGED
    return EventType.CASE_UPDATED


def case_event_payload(*, case: Case, event: CaseEvent, event_type: str) -> dict[str, Any]:
    """The body partners receive: a summary of the case as it stands after the event, and
    the event as `GET /cases/{id}/events/` shows it without its `comment` and `data`.

    Those two are the case's content (free-text reasons, a supplement's items, amounts,
    cost lines, filing numbers), and a subscription is the partner's, not a key's: it
    receives whatever the scopes of the partner's keys, even after they are revoked. So a
    message says that something happened and who did it; reading what happened takes
    `cases:read`."""
    at = timezone.localtime(event.at).isoformat()  # the offset the API shows (+07:00)
    return {
        "type": event_type,
        "timestamp": at,
        "data": {
            "case": {
                "id": str(case.pk),
                "reference": case.reference or None,
                "enterprise": str(case.enterprise_id),
                "programme": case.programme.code,
                "support_type": case.support_type,
                "state": case.state,
                "version": case.version,
            },
            "event": {
                "id": str(event.pk),
                "seq": event.seq,
                "action": event.action,
                "from_state": event.state_before,
                "to_state": event.to_state,
                "actor": {"id": str(event.actor_id), "username": event.actor.username},
                "at": at,
            },
        },
    }


def subscriptions_for(*, event_type: str, enterprise_id: uuid.UUID) -> list[Subscription]:
    """Subscriptions of active partners that reach this enterprise and want this type."""
    authorised = Authorisation.objects.live().filter(partner_id=OuterRef("partner_id"), enterprise_id=enterprise_id)
    # A disabled subscription (paused by its partner, or after a 410 or too many failures)
    # still collects its deliveries: re-enabled, it gets everything it missed, in order.
    candidates = (
        Subscription.objects.filter(partner__is_active=True)
        .filter(Q(partner__access=Access.ALL) | Q(Exists(authorised)))
        .order_by("created_at", "id")
    )
    # The type filter is done here, not in SQL: SQLite has no JSON containment lookup, and a
    # partner has a handful of subscriptions.
    return [subscription for subscription in candidates if event_type in subscription.event_types]


def publish_case_event(*, case: Case, event: CaseEvent) -> Message | None:
    """Write the outbox row for `event` and its deliveries; must run in the transaction
    that wrote the event. Events of drafts are not published: no partner sees a draft."""
    if event.to_state == CaseState.DRAFT:
        return None
    event_type = event_type_for(event)
    message = Message.objects.create(
        event_type=event_type,
        enterprise_id=case.enterprise_id,
        case=case,
        payload=case_event_payload(case=case, event=event, event_type=event_type),
        created_at=event.at,
    )
    subscriptions = subscriptions_for(event_type=event_type, enterprise_id=case.enterprise_id)
    _fan_out(message, subscriptions)
    return message


def _fan_out(message: Message, subscriptions: Iterable[Subscription]) -> None:
    chosen = list(subscriptions)
    if not chosen:
        return
    Delivery.objects.bulk_create(
        [Delivery(subscription=row, message=message, next_attempt_at=message.created_at) for row in chosen]
    )
    from webhooks import relay  # the relay imports Celery; the outbox need not at import

    active = [subscription.pk for subscription in chosen if subscription.is_active]
    if active:
        transaction.on_commit(lambda: relay.kick(active))
