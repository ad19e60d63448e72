"""Query parameters of the case list, documented in the schema through django-filter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models import Case, CaseState, CostLine, SupportType
from cases.selectors import CLOCK_RUNNING


class _InstantField(forms.DateTimeField):
    """A moment, handed to the database in UTC. ISO 8601 allows offsets up to ±23:59 and
    PostgreSQL refuses those beyond ±15:59 (a 500); a moment that falls outside the years
    1–9999 once in UTC is an invalid value, not a crash."""

    def to_python(self, value: Any) -> datetime | None:
        moment: datetime | None = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class InstantFilter(django_filters.DateTimeFilter):
    field_class = _InstantField


class CaseFilter(django_filters.FilterSet):
    # An empty search is a cleared search box: every case. Any other empty parameter is a
    # mistake the list endpoint refuses (it would otherwise filter nothing without a word).
    blank_allowed = ("search",)

    state = django_filters.MultipleChoiceFilter(
        choices=CaseState.choices, help_text=_("Repeat to match any of several states.")
    )
    support_type = django_filters.ChoiceFilter(choices=SupportType.choices)
    programme = django_filters.CharFilter(field_name="programme__code", help_text=_("Programme code."))
    enterprise = django_filters.UUIDFilter(field_name="enterprise_id")
    assigned_officer = django_filters.UUIDFilter(field_name="assigned_officer_id")
    submitted_after = InstantFilter(field_name="submitted_at", lookup_expr="gte")
    submitted_before = InstantFilter(field_name="submitted_at", lookup_expr="lt")
    overdue = django_filters.BooleanFilter(
        method="filter_overdue",
        help_text=_("true: in review or recommended after the appointment date; false: every other case."),
    )
    due_before = django_filters.DateFilter(field_name="due_on", lookup_expr="lt")
    has_cost_lines = django_filters.BooleanFilter(
        method="filter_has_cost_lines",
        help_text=_("false: cases with no cost line yet (support is a share of invoiced costs)."),
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=100,
        help_text=_("Matches the receipt code, title, enterprise name or tax code."),
    )

    class Meta:
        model = Case
        fields = [
            "state",
            "support_type",
            "programme",
            "enterprise",
            "assigned_officer",
            "submitted_after",
            "submitted_before",
            "overdue",
            "due_before",
            "has_cost_lines",
            "search",
        ]

    # django-filter calls a method only with a value (None and "" are skipped before), and
    # the schema declares the parameter boolean from the `value: bool` hint.
    def filter_overdue(self, queryset: QuerySet[Case], name: str, value: bool) -> QuerySet[Case]:
        late = Q(state__in=CLOCK_RUNNING, due_on__lt=timezone.localdate())
        return queryset.filter(late) if value else queryset.exclude(late)

    def filter_has_cost_lines(self, queryset: QuerySet[Case], name: str, value: bool) -> QuerySet[Case]:
        lines = CostLine.objects.filter(case=OuterRef("pk"))
        return queryset.filter(Exists(lines)) if value else queryset.exclude(Exists(lines))

    def filter_search(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        term = value.strip()
        if not term:
            return queryset
        return queryset.filter(
            Q(reference__icontains=term)
            | Q(title__icontains=term)
            | Q(enterprise__name__icontains=term)
            | Q(enterprise__tax_code__icontains=term)
        )
