"""Webhooks: partners' subscriptions, the outbox, and every delivery attempt.

A change to a case writes a `Message` (the outbox row) and one `Delivery` per matching
subscription in the same transaction as the change, so an event exists exactly when the
change does. The relay on the Celery workers sends each subscription's deliveries one at
a time, in message order, and keeps an `Attempt` per try.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from applicants.models import Enterprise
from cases.models import Case
from partners.models import Partner


class EventType(models.TextChoices):
    CASE_STATE_CHANGED = "case.state_changed", _("A case changed state (an action of the workflow)")
    CASE_DOCUMENT_ADDED = "case.document_added", _("A document was added to a case")
    CASE_MILESTONE_RECORDED = "case.milestone_recorded", _("An IP office milestone was recorded")
    CASE_UPDATED = "case.updated", _("Another change to a case (costs, filing, officer, appointment)")
    PING = "webhook.ping", _("A test message the partner asked for")


class Subscription(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="subscriptions")
    url = models.URLField(_("URL"), max_length=2000)
    description = models.CharField(_("description"), max_length=255, blank=True)
    event_types = models.JSONField(_("event types"), default=list)
    # The signing secret, encrypted with a key derived from WEBHOOKS_ENCRYPTION_KEY: it must
    # be readable to sign, so it cannot be a digest; it is shown once, when created or rotated.
    secret_encrypted = models.TextField(editable=False)
    # The previous secret also signs for a day after a rotation, so receivers can switch.
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    disabled_reason = models.CharField(_("disabled because"), max_length=255, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # The relay's lease: one worker at a time sends this subscription's deliveries; a worker
    # that dies leaves a lease that simply runs out.
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Who holds the lease: a worker renews and releases only a lease it still holds, so one
    # that outlived its lease cannot cut short the worker that took over.
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")

    def __str__(self) -> str:
        return f"{self.partner_id} → {self.url}"


class Message(models.Model):
    """One outbox row: an event as partners receive it. The integer key gives the order."""

    id = models.BigAutoField(primary_key=True)
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    enterprise = models.ForeignKey(Enterprise, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payload = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")

    def __str__(self) -> str:
        return f"{self.webhook_id} {self.event_type}"

    @property
    def webhook_id(self) -> str:
        """The `webhook-id` header: the same on every try, so receivers can drop duplicates."""
        return f"msg_{self.uid.hex}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class Delivery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="deliveries")
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The retry schedule counts the attempts since this one: 0, or attempt_count when the
    # partner last asked for a redelivery (which starts a fresh schedule).
    schedule_start = models.PositiveIntegerField(default=0)
    redelivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["message_id"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "message"], name="delivery_one_per_subscription_message")
        ]
        indexes = [models.Index(fields=["subscription", "status", "message"], name="delivery_queue")]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")

    def __str__(self) -> str:
        return f"{self.message_id} → {self.subscription_id} ({self.status})"


class Attempt(models.Model):
    """One HTTP try of a delivery, successful or not. Append-only in practice: the relay
    creates it once the try has ended."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.CharField(max_length=1000, blank=True)
    # Set when the relay will try again: when, and whether the receiver asked (Retry-After).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    redelivery = models.BooleanField(default=False)

    class Meta:
        ordering = ["started_at", "number"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number} → {self.status_code or self.error}"
