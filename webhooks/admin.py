"""Webhooks in the admin: to look, not to write. Subscriptions are managed by partners
through the API's services (which validate URLs, show a secret once and audit); the
secrets are never shown here, even encrypted."""

from __future__ import annotations

from django.contrib import admin

from common.admin import ViewOnlyAdminMixin
from webhooks.models import Attempt, Delivery, Message, Subscription


@admin.register(Subscription)
class SubscriptionAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("url", "partner", "is_active", "consecutive_failures", "disabled_reason", "created_at")
    list_filter = ("is_active", "partner")
    search_fields = ("url", "description", "partner__name")
    exclude = ("secret_encrypted", "previous_secret_encrypted")
    list_select_related = ("partner",)


@admin.register(Message)
class MessageAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "webhook_id", "event_type", "case", "created_at")
    list_filter = ("event_type",)
    search_fields = ("=uid", "case__reference")
    list_select_related = ("case",)
    raw_id_fields = ("case", "enterprise")


class AttemptInline(ViewOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = Attempt
    extra = 0
    fields = ("number", "started_at", "duration_ms", "status_code", "error", "next_attempt_at", "redelivery")
    readonly_fields = fields


@admin.register(Delivery)
class DeliveryAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("message", "subscription", "status", "attempt_count", "next_attempt_at", "last_status_code")
    list_filter = ("status",)
    list_select_related = ("message", "subscription")
    raw_id_fields = ("message", "subscription")
    inlines = [AttemptInline]
