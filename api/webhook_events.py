"""What partners receive: the webhook requests, described as OpenAPI 3.1 `webhooks` so
that the one schema describes both directions.

The bodies are built by `webhooks.outbox.case_event_payload` and
`webhooks.services.subscription_ping`; the serializers here only describe them (a test
checks real deliveries against this description). Signing follows Standard Webhooks:
see docs/partners.md.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, OpenApiWebhook, extend_schema
from rest_framework import serializers

from api.serializers import CaseEventOutput
from cases.models import CaseState, SupportType
from webhooks.models import EventType

SIGNATURE_HEADERS: list[dict[str, Any]] = [
    {
        "in": "header",
        "name": "webhook-id",
        "required": True,
        "schema": {"type": "string"},
        "description": "The delivery's message id: the same on every retry and redelivery, so a receiver "
        "can drop duplicates.",
    },
    {
        "in": "header",
        "name": "webhook-timestamp",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "description": "Unix seconds when this attempt was signed; refuse messages far from your clock.",
    },
    {
        "in": "header",
        "name": "webhook-signature",
        "required": True,
        "schema": {"type": "string"},
        "description": "`v1,<base64 HMAC-SHA256 of '<webhook-id>.<webhook-timestamp>.<body>'>`, space-separated "
        "when two secrets sign during a rotation (Standard Webhooks).",
    },
]


class WebhookCaseOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    reference = serializers.CharField(allow_null=True, help_text="The receipt code; null before submission.")
    enterprise = serializers.UUIDField()
    programme = serializers.CharField(help_text="The programme's code.")
    support_type = serializers.ChoiceField(choices=SupportType.choices)
    state = serializers.ChoiceField(choices=CaseState.choices)
    version = serializers.IntegerField(help_text="The case's version after the event (its ETag).")


class WebhookEventOutput(CaseEventOutput):
    """The event without its comment and data: a message says what happened and who did it;
    the case's content is read with `cases:read` (GET /cases/{id}/events/)."""

    class Meta(CaseEventOutput.Meta):
        fields = ["id", "seq", "action", "from_state", "to_state", "actor", "at"]
        read_only_fields = fields


class WebhookCaseDataOutput(serializers.Serializer[Any]):
    case = WebhookCaseOutput()
    event = WebhookEventOutput(
        help_text="The event as GET /cases/{id}/events/ shows it, without its `comment` and `data`: "
        "read those with a key that has `cases:read`."
    )


class WebhookCaseEventPayload(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=EventType.choices)
    timestamp = serializers.DateTimeField()
    data = WebhookCaseDataOutput()  # type: ignore[assignment]  # a field, not Serializer.data


class WebhookPingDataOutput(serializers.Serializer[Any]):
    subscription = serializers.UUIDField()


class WebhookPingPayload(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=EventType.choices)
    timestamp = serializers.DateTimeField()
    data = WebhookPingDataOutput()  # type: ignore[assignment]  # a field, not Serializer.data


_ANSWERS = {
    200: OpenApiResponse(description="Any 2xx within 10 seconds acknowledges the delivery."),
    410: OpenApiResponse(description="Gone: the subscription is disabled and nothing more is sent."),
}


def _case_webhook(event_type: EventType) -> OpenApiWebhook:
    return OpenApiWebhook(
        name=event_type.value,
        decorator=extend_schema(
            summary=event_type.label,
            description=(
                "Sent to each subscription of a partner that reaches the case's enterprise, in the order the "
                "events happened. Other statuses, timeouts and refused connections are retried with backoff "
                "for about three days; `Retry-After` is honoured."
            ),
            tags=["webhooks"],
            request=WebhookCaseEventPayload,
            responses=_ANSWERS,
        ),
    )


CASE_STATE_CHANGED = _case_webhook(EventType.CASE_STATE_CHANGED)
CASE_DOCUMENT_ADDED = _case_webhook(EventType.CASE_DOCUMENT_ADDED)
CASE_MILESTONE_RECORDED = _case_webhook(EventType.CASE_MILESTONE_RECORDED)
CASE_UPDATED = _case_webhook(EventType.CASE_UPDATED)
PING = OpenApiWebhook(
    name=EventType.PING.value,
    decorator=extend_schema(
        summary=EventType.PING.label,
        description="Sent when the partner asks for a ping (POST /webhooks/{id}/ping/).",
        tags=["webhooks"],
        request=WebhookPingPayload,
        responses=_ANSWERS,
    ),
)
