"""Writes of webhook subscriptions: a partner system manages its own.

Each service needs a partner's key with the `webhooks` scope (managers only read), writes
a PartnerEvent with the partner's user as actor, and queues the relay after commit where
something may now be sent. Secrets are returned once, by the services that make them, and
stored encrypted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import principal_for
from common.exceptions import FieldError, NotAllowed, ValidationFailed
from partners.models import Scope
from partners.services import record_partner_action
from webhooks import guard, relay, signing
from webhooks.exceptions import DeliveryPending, SubscriptionDisabled
from webhooks.models import Delivery, DeliveryStatus, EventType, Message, Subscription

# After a rotation the previous secret signs too, for this long, so receivers can switch.
PREVIOUS_SECRET_GRACE = dt.timedelta(hours=24)
MAX_SUBSCRIPTIONS_PER_PARTNER = 10
SUBSCRIBABLE = tuple(value for value in EventType.values if value != EventType.PING)
UPDATABLE = ("url", "event_types", "description", "is_active")


def partner_id_of(actor: User) -> uuid.UUID:
    """The partner whose key `actor` signed in with; NotAllowed unless the key carries the
    `webhooks` scope (people, managers included, never manage subscriptions)."""
    principal = principal_for(actor)
    if principal.partner is None or not principal.may(Scope.WEBHOOKS):
        raise NotAllowed(_("Only a partner system with the “webhooks” scope manages webhook subscriptions."))
    return principal.partner.partner_id


def _require_owner(actor: User, subscription: Subscription) -> None:
    if partner_id_of(actor) != subscription.partner_id:
        raise NotAllowed(_("This subscription belongs to another partner system."))


def _clean_event_types(values: Iterable[object]) -> list[str]:
    chosen = list(values)
    unknown = [str(value) for value in chosen if value not in SUBSCRIBABLE]
    if unknown:
        raise ValidationFailed.single(
            "event_types",
            "unknown_event_type",
            _("Unknown event types: %(types)s. Known: %(known)s.")
            % {"types": ", ".join(unknown), "known": ", ".join(SUBSCRIBABLE)},
        )
    if not chosen:
        raise ValidationFailed.single("event_types", "empty", _("Choose at least one event type."))
    return [value for value in SUBSCRIBABLE if value in chosen]  # one each, in a fixed order


def _clean_description(value: object) -> str:
    text = str(value).strip()
    if len(text) > 255:
        raise ValidationFailed.single("description", "too_long", _("At most 255 characters."))
    return text


def _validate(data: dict[str, Any]) -> dict[str, Any]:
    """Every field given, checked; one error per field at once."""
    clean: dict[str, Any] = {}
    errors: list[FieldError] = []
    checks: dict[str, Callable[[Any], Any]] = {
        "url": lambda value: guard.validate_url(str(value)),
        "event_types": _clean_event_types,
        "description": _clean_description,
        "is_active": bool,
    }
    for field, check in checks.items():
        if field not in data:
            continue
        try:
            clean[field] = check(data[field])
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return clean


@transaction.atomic
def subscription_create(
    *, actor: User, url: str, event_types: Iterable[object], description: str = ""
) -> tuple[Subscription, str]:
    """Subscribe the actor's partner to `event_types` at `url`. Returns the row and its
    signing secret, which is shown this once. Raises NotAllowed, ValidationFailed (a URL
    that is not https or reaches a forbidden address, unknown or no event types, too many
    subscriptions)."""
    partner_id = partner_id_of(actor)
    clean = _validate({"url": url, "event_types": event_types, "description": description})
    if Subscription.objects.filter(partner_id=partner_id).count() >= MAX_SUBSCRIPTIONS_PER_PARTNER:
        raise ValidationFailed.single(
            "non_field_errors",
            "too_many_subscriptions",
            _("A partner system has at most %(count)d webhook subscriptions.")
            % {"count": MAX_SUBSCRIPTIONS_PER_PARTNER},
        )
    secret = signing.new_secret()
    subscription = Subscription.objects.create(partner_id=partner_id, secret_encrypted=signing.encrypt(secret), **clean)
    record_partner_action(
        partner_id=partner_id,
        action="webhook_create",
        actor=actor,
        subscription=str(subscription.pk),
        url=subscription.url,
        event_types=subscription.event_types,
    )
    return subscription, secret


@transaction.atomic
def subscription_update(*, actor: User, subscription: Subscription, data: dict[str, Any]) -> Subscription:
    """Change the URL, event types, description or whether it is active. Enabling a
    disabled subscription clears why it was disabled and its failures, and sends what
    waited meanwhile, a retry that was scheduled for later included. Raises NotAllowed,
    ValidationFailed."""
    _require_owner(actor, subscription)
    clean = _validate({field: data[field] for field in UPDATABLE if field in data})
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    before = {field: getattr(subscription, field) for field in UPDATABLE}
    for field, value in clean.items():
        setattr(subscription, field, value)
    enabled = clean.get("is_active") is True and not before["is_active"]
    if enabled:
        subscription.disabled_reason = ""
        subscription.disabled_at = None
        subscription.consecutive_failures = 0
    elif clean.get("is_active") is False and before["is_active"]:
        subscription.disabled_reason = "Disabled by the partner."
        subscription.disabled_at = timezone.now()
    after = {field: getattr(subscription, field) for field in UPDATABLE}
    if after == before:
        return subscription
    subscription.save(update_fields=[*clean, "disabled_reason", "disabled_at", "consecutive_failures", "updated_at"])
    changed = {field: after[field] for field in UPDATABLE if after[field] != before[field]}
    record_partner_action(
        partner_id=subscription.partner_id,
        action="webhook_update",
        actor=actor,
        subscription=str(subscription.pk),
        changes=changed,
    )
    if enabled:
        _bring_forward(subscription)
        pk = subscription.pk
        transaction.on_commit(lambda: relay.kick([pk]))
    return subscription


def _bring_forward(subscription: Subscription) -> None:
    """A waiting retry is due now: the partner says its receiver works again."""
    now = timezone.now()
    Delivery.objects.filter(subscription=subscription, status=DeliveryStatus.PENDING, next_attempt_at__gt=now).update(
        next_attempt_at=now
    )


@transaction.atomic
def subscription_delete(*, actor: User, subscription: Subscription) -> None:
    """Delete the subscription with its deliveries and their attempts: nothing more is
    sent to it (an attempt under way ends unrecorded). Raises NotAllowed."""
    _require_owner(actor, subscription)
    record_partner_action(
        partner_id=subscription.partner_id,
        action="webhook_delete",
        actor=actor,
        subscription=str(subscription.pk),
        url=subscription.url,
    )
    subscription.delete()


@transaction.atomic
def secret_rotate(*, actor: User, subscription: Subscription) -> tuple[Subscription, str]:
    """A new signing secret, returned this once. For a day the previous one signs as well
    (a second signature in `webhook-signature`), so receivers can switch without losing a
    message. Raises NotAllowed."""
    _require_owner(actor, subscription)
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    secret = signing.new_secret()
    subscription.previous_secret_encrypted = subscription.secret_encrypted
    subscription.previous_secret_expires_at = timezone.now() + PREVIOUS_SECRET_GRACE
    subscription.secret_encrypted = signing.encrypt(secret)
    subscription.save(
        update_fields=["secret_encrypted", "previous_secret_encrypted", "previous_secret_expires_at", "updated_at"]
    )
    record_partner_action(
        partner_id=subscription.partner_id,
        action="webhook_rotate_secret",
        actor=actor,
        subscription=str(subscription.pk),
        previous_secret_expires_at=subscription.previous_secret_expires_at.isoformat(),
    )
    return subscription, secret


@transaction.atomic
def subscription_ping(*, actor: User, subscription: Subscription) -> Delivery:
    """Queue a `webhook.ping` message for this subscription only, after whatever it is
    already owed (order is kept). It also brings the retry of a waiting delivery forward
    to now: a partner pings once its receiver is fixed. Raises NotAllowed,
    SubscriptionDisabled."""
    _require_owner(actor, subscription)
    if not subscription.is_active:
        raise SubscriptionDisabled(_("The subscription is disabled: enable it before pinging it."))
    now = timezone.now()
    message = Message.objects.create(
        event_type=EventType.PING,
        payload={
            "type": EventType.PING.value,
            "timestamp": now.isoformat(),
            "data": {"subscription": str(subscription.pk)},
        },
        created_at=now,
    )
    _bring_forward(subscription)
    delivery = Delivery.objects.create(subscription=subscription, message=message, next_attempt_at=now)
    record_partner_action(
        partner_id=subscription.partner_id,
        action="webhook_ping",
        actor=actor,
        subscription=str(subscription.pk),
        webhook_id=message.webhook_id,
    )
    pk = subscription.pk
    transaction.on_commit(lambda: relay.kick([pk]))
    return delivery


@transaction.atomic
def delivery_redeliver(*, actor: User, delivery: Delivery) -> Delivery:
    """Send a delivered or failed message again, now, with the same webhook-id (so a
    receiver that has it can tell), on a fresh retry schedule. It goes out in message
    order with the subscription's other pending deliveries. Raises NotAllowed,
    DeliveryPending."""
    subscription = delivery.subscription
    _require_owner(actor, subscription)
    now = timezone.now()
    delivery = Delivery.objects.select_for_update().select_related("message").get(pk=delivery.pk)
    if delivery.status == DeliveryStatus.PENDING:
        raise DeliveryPending(_("This delivery is still under way: it will be sent (again) without asking."))
    previous = delivery.status
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    delivery.schedule_start = delivery.attempt_count
    delivery.redelivered_at = now
    delivery.save(update_fields=["status", "next_attempt_at", "schedule_start", "redelivered_at"])
    record_partner_action(
        partner_id=subscription.partner_id,
        action="webhook_redeliver",
        actor=actor,
        subscription=str(delivery.subscription_id),
        delivery=str(delivery.pk),
        webhook_id=delivery.message.webhook_id,
        previous_status=previous,
    )
    pk = delivery.subscription_id
    transaction.on_commit(lambda: relay.kick([pk]))
    return delivery
