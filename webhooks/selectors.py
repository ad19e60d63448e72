"""Reads of webhook subscriptions and their deliveries, scoped to who asks.

A partner system (with a key carrying the `webhooks` scope) sees its own subscriptions;
managers see every partner's, read-only, to help partners; nobody else sees any.

A delivery shows the message's body (the case, its data), so a partner sees only the
deliveries it could read the case of now: pings, and messages about an enterprise that
still authorises it. Once an enterprise withdraws its authorisation, its deliveries
disappear from the partner's view as its cases do (managers still see them).
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role, principal_for
from common.exceptions import NotAllowed
from partners.models import Scope
from webhooks.exceptions import DeliveryNotFound, SubscriptionNotFound
from webhooks.models import Attempt, Delivery, Subscription


def subscription_list_visible_to(*, user: User) -> QuerySet[Subscription]:
    """A partner's own subscriptions, every one for a manager; NotAllowed for anyone else."""
    principal = principal_for(user)
    queryset = Subscription.objects.select_related("partner")
    if principal.partner is not None:
        if not principal.may(Scope.WEBHOOKS):
            raise NotAllowed(_("This API key lacks the scope “webhooks”."))
        return queryset.filter(partner_id=principal.partner.partner_id)
    if principal.has(Role.MANAGER):
        return queryset
    raise NotAllowed(_("Only partner systems and managers see webhook subscriptions."))


def subscription_get_visible(*, user: User, subscription_id: uuid.UUID | str) -> Subscription:
    try:
        return subscription_list_visible_to(user=user).get(pk=subscription_id)
    except (Subscription.DoesNotExist, ValueError, DjangoValidationError):
        raise SubscriptionNotFound(_("No such webhook subscription.")) from None


def subscription_deliveries(*, user: User, subscription: Subscription) -> QuerySet[Delivery]:
    """The deliveries of `subscription` (which `user` may see) with their messages: for a
    partner, only pings and messages about the enterprises it reaches now."""
    queryset = Delivery.objects.filter(subscription=subscription).select_related("message")
    principal = principal_for(user)
    if principal.partner is None:
        return queryset  # a manager: subscription_get_visible let no one else this far
    reach = principal.partner.enterprise_ids
    if reach is None:
        return queryset  # a partner that serves every enterprise
    return queryset.filter(Q(message__enterprise_id__isnull=True) | Q(message__enterprise_id__in=reach))


def delivery_get(*, user: User, subscription: Subscription, delivery_id: uuid.UUID | str) -> Delivery:
    """One delivery `user` may see, with its attempts, oldest first; DeliveryNotFound."""
    attempts = Prefetch("attempts", queryset=Attempt.objects.order_by("started_at", "number"))
    try:
        delivery = (
            subscription_deliveries(user=user, subscription=subscription).prefetch_related(attempts).get(pk=delivery_id)
        )
    except (Delivery.DoesNotExist, ValueError, DjangoValidationError):
        raise DeliveryNotFound(_("No such delivery.")) from None
    delivery.subscription = subscription  # already loaded, and checked visible
    return delivery
