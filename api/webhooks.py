"""HTTP for webhooks: a partner system manages its subscriptions, sees every delivery and
its attempts, and asks for a ping or a redelivery; managers read them all, to help.
Views parse, call a service or a selector, and render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import pagination
from api.serializers import StrictInput
from api.views import P400, P401, P403, P404, P409, _user
from partners.models import Partner
from webhooks import selectors, services
from webhooks.filters import DeliveryFilter
from webhooks.models import Attempt, Delivery, DeliveryStatus, EventType, Subscription

SIGNATURE_HELP = (
    "Each delivery is a POST of the event as JSON (`type`, `timestamp`, `data`) with the Standard Webhooks "
    "headers: `webhook-id` (the same on every retry and redelivery: drop duplicates by it), `webhook-timestamp` "
    "(seconds since the epoch, of this attempt) and `webhook-signature`: `v1,` followed by the base64 "
    "HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` keyed with the secret's bytes (the base64 after "
    "`whsec_`); after a rotation, a second signature with the previous secret follows, space-separated, for a "
    "day. Any Standard Webhooks library verifies it. Answer 2xx quickly (within 10 seconds); anything else is retried "
    "with exponential backoff for about three days (Retry-After is honoured), one message at a time, in order. "
    "410 Gone disables the subscription."
)


# --- Serializers -------------------------------------------------------------------------


class WebhookPartnerOutput(serializers.ModelSerializer[Partner]):
    class Meta:
        model = Partner
        fields = ["id", "name"]
        read_only_fields = fields


class WebhookOutput(serializers.ModelSerializer[Subscription]):
    partner = WebhookPartnerOutput(read_only=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=[(value, value) for value in services.SUBSCRIBABLE]), read_only=True
    )
    previous_secret_expires_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Until then the previous secret signs too (after a rotation)."
    )

    class Meta:
        model = Subscription
        fields = [
            "id",
            "partner",
            "url",
            "description",
            "event_types",
            "is_active",
            "disabled_reason",
            "disabled_at",
            "consecutive_failures",
            "previous_secret_expires_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebhookCreatedOutput(WebhookOutput):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret (`whsec_…`). Shown this once; rotate it to get a new one.",
    )

    class Meta(WebhookOutput.Meta):
        fields = [*WebhookOutput.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookSecretRotatedOutput(WebhookCreatedOutput):
    class Meta(WebhookCreatedOutput.Meta):
        pass


_EVENT_TYPES_HELP = "One or more of: " + ", ".join(services.SUBSCRIBABLE) + "."


class WebhookCreateInput(StrictInput):
    # URL and event types are validated by the service, so the answer says what is wrong.
    url = serializers.CharField(max_length=2000, help_text="https; a public address.")
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=40), allow_empty=True, help_text=_EVENT_TYPES_HELP
    )
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class WebhookUpdateInput(StrictInput):
    url = serializers.CharField(max_length=2000, required=False)
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=40), allow_empty=True, required=False, help_text=_EVENT_TYPES_HELP
    )
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)
    is_active = serializers.BooleanField(
        required=False, help_text="false pauses deliveries (they wait); true resumes them and clears the failures."
    )


class AttemptOutput(serializers.ModelSerializer[Attempt]):
    class Meta:
        model = Attempt
        fields = [
            "id",
            "number",
            "started_at",
            "duration_ms",
            "status_code",
            "error",
            "response_excerpt",
            "next_attempt_at",
            "redelivery",
        ]
        read_only_fields = fields


class DeliveryOutput(serializers.ModelSerializer[Delivery]):
    webhook_id = serializers.CharField(source="message.webhook_id", read_only=True, help_text="The `webhook-id`.")
    event_type = serializers.ChoiceField(source="message.event_type", choices=EventType.choices, read_only=True)
    case = serializers.UUIDField(source="message.case_id", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook_id",
            "event_type",
            "case",
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "redelivered_at",
            "created_at",
        ]
        read_only_fields = fields


class DeliveryDetailOutput(DeliveryOutput):
    payload = serializers.JSONField(source="message.payload", read_only=True, help_text="The body, as sent.")
    attempts = AttemptOutput(many=True, read_only=True)

    class Meta(DeliveryOutput.Meta):
        fields = [*DeliveryOutput.Meta.fields, "payload", "attempts"]
        read_only_fields = fields


# --- Views -------------------------------------------------------------------------------


class DeliveryPagination(pagination.KeysetPagination):
    """Newest message first (the message's number is unique within a subscription)."""

    ordering = "-message_id"


class WebhookListView(GenericAPIView[Any]):
    serializer_class = WebhookOutput
    pagination_class = pagination.KeysetPagination  # newest first
    queryset = Subscription.objects.none()  # for the schema; rows come from the selector

    @extend_schema(
        tags=["webhooks"],
        responses={200: WebhookOutput(many=True), **P400, **P401, **P403},
        summary="Webhook subscriptions: a partner's own; managers see every partner's",
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.subscription_list_visible_to(user=_user(request)))
        return self.get_paginated_response(WebhookOutput(page, many=True).data)

    @extend_schema(
        tags=["webhooks"],
        request=WebhookCreateInput,
        responses={201: WebhookCreatedOutput, **P400, **P401, **P403},
        summary="Subscribe to events (partner systems); the signing secret is shown once",
        description=SIGNATURE_HELP,
    )
    def post(self, request: Request) -> Response:
        user = _user(request)
        services.partner_id_of(user)  # 403 before 400
        data = WebhookCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        subscription, secret = services.subscription_create(actor=user, **data.validated_data)
        subscription.secret = secret  # type: ignore[attr-defined]  # rendered once, stored encrypted
        return Response(WebhookCreatedOutput(subscription).data, status=status.HTTP_201_CREATED)


class WebhookDetailView(APIView):
    @extend_schema(
        tags=["webhooks"],
        responses={200: WebhookOutput, **P401, **P403, **P404},
        summary="One webhook subscription: a partner's own; managers see any",
    )
    def get(self, request: Request, pk: str) -> Response:
        return Response(WebhookOutput(selectors.subscription_get_visible(user=_user(request), subscription_id=pk)).data)

    @extend_schema(
        tags=["webhooks"],
        request=WebhookUpdateInput,
        responses={200: WebhookOutput, **P400, **P401, **P403, **P404},
        summary="Change the URL, event types or description; pause or resume deliveries",
    )
    def patch(self, request: Request, pk: str) -> Response:
        user = _user(request)
        subscription = selectors.subscription_get_visible(user=user, subscription_id=pk)
        services.partner_id_of(user)
        data = WebhookUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        subscription = services.subscription_update(
            actor=user, subscription=subscription, data=dict(data.validated_data)
        )
        return Response(WebhookOutput(subscription).data)

    @extend_schema(
        tags=["webhooks"],
        responses={204: None, **P401, **P403, **P404},
        summary="Delete a subscription with its deliveries; nothing more is sent to it",
    )
    def delete(self, request: Request, pk: str) -> Response:
        user = _user(request)
        subscription = selectors.subscription_get_visible(user=user, subscription_id=pk)
        services.subscription_delete(actor=user, subscription=subscription)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretView(APIView):
    @extend_schema(
        tags=["webhooks"],
        request=None,
        responses={200: WebhookSecretRotatedOutput, **P401, **P403, **P404},
        summary="A new signing secret, shown once; the previous one also signs for 24 hours",
    )
    def post(self, request: Request, pk: str) -> Response:
        user = _user(request)
        subscription = selectors.subscription_get_visible(user=user, subscription_id=pk)
        subscription, secret = services.secret_rotate(actor=user, subscription=subscription)
        subscription.secret = secret  # type: ignore[attr-defined]
        return Response(WebhookSecretRotatedOutput(subscription).data)


class WebhookPingView(APIView):
    @extend_schema(
        tags=["webhooks"],
        request=None,
        responses={202: DeliveryOutput, **P401, **P403, **P404, **P409},
        summary="Send a webhook.ping message to this subscription (after what it is owed)",
    )
    def post(self, request: Request, pk: str) -> Response:
        user = _user(request)
        subscription = selectors.subscription_get_visible(user=user, subscription_id=pk)
        delivery = services.subscription_ping(actor=user, subscription=subscription)
        return Response(DeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListView(GenericAPIView[Any]):
    serializer_class = DeliveryOutput
    pagination_class = DeliveryPagination
    filterset_class = DeliveryFilter
    queryset = Delivery.objects.none()  # for the schema; rows come from the selector

    @extend_schema(
        tags=["webhooks"],
        responses={200: DeliveryOutput(many=True), **P400, **P401, **P403, **P404},
        summary="A subscription's deliveries, newest first",
    )
    def get(self, request: Request, pk: str) -> Response:
        user = _user(request)
        subscription = selectors.subscription_get_visible(user=user, subscription_id=pk)
        rows = self.filter_queryset(selectors.subscription_deliveries(user=user, subscription=subscription))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(DeliveryOutput(page, many=True).data)


class WebhookDeliveryDetailView(APIView):
    @extend_schema(
        tags=["webhooks"],
        responses={200: DeliveryDetailOutput, **P401, **P403, **P404},
        summary="One delivery: the body sent and every attempt",
    )
    def get(self, request: Request, pk: str, delivery_id: str) -> Response:
        user = _user(request)
        subscription = selectors.subscription_get_visible(user=user, subscription_id=pk)
        delivery = selectors.delivery_get(user=user, subscription=subscription, delivery_id=delivery_id)
        return Response(DeliveryDetailOutput(delivery).data)


class WebhookRedeliverView(APIView):
    @extend_schema(
        tags=["webhooks"],
        request=None,
        responses={202: DeliveryOutput, **P401, **P403, **P404, **P409},
        summary="Send a delivered or failed message again, with the same webhook-id",
    )
    def post(self, request: Request, pk: str, delivery_id: str) -> Response:
        user = _user(request)
        subscription = selectors.subscription_get_visible(user=user, subscription_id=pk)
        delivery = selectors.delivery_get(user=user, subscription=subscription, delivery_id=delivery_id)
        delivery = services.delivery_redeliver(actor=user, delivery=delivery)
        return Response(DeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)
