"""Query parameters of a subscription's delivery list, documented through django-filter."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from webhooks.models import Delivery, DeliveryStatus, EventType


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    event_type = django_filters.ChoiceFilter(
        field_name="message__event_type", choices=EventType.choices, help_text=_("The message's event type.")
    )

    class Meta:
        model = Delivery
        fields = ["status", "event_type"]
