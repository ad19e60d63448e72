"""Errors of webhooks. `api.exceptions` maps each family to its HTTP status once."""

from __future__ import annotations

from common.exceptions import Conflict, NotFound


class SubscriptionNotFound(NotFound):
    code = "webhook_not_found"


class DeliveryNotFound(NotFound):
    code = "delivery_not_found"


class DeliveryPending(Conflict):
    """A redelivery of a delivery that has not ended yet."""

    code = "delivery_pending"


class SubscriptionDisabled(Conflict):
    """A ping to a disabled subscription: it would not be sent."""

    code = "webhook_disabled"
