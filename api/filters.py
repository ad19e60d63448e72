"""Filter backends for the API layer (FilterSets live in the domain apps)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.views import APIView


class StrictOrderingFilter(OrderingFilter):
    """Like DRF's, but an unknown `ordering` is a 400 instead of being silently ignored.

    A view may name public orderings that sort by another column (`ordering_aliases`).
    """

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: APIView) -> Any:
        params = request.query_params.get(self.ordering_param)
        if params:
            fields = [param.strip() for param in params.split(",")]
            allowed = {name for name, _label in self.get_valid_fields(queryset, view, {"request": request})}
            invalid = [f for f in fields if f.lstrip("-") not in allowed]
            if invalid:
                raise ValidationError(
                    {
                        self.ordering_param: [
                            _("Unknown ordering: %(fields)s. Allowed: %(allowed)s.")
                            % {"fields": ", ".join(invalid), "allowed": ", ".join(sorted(allowed))}
                        ]
                    },
                    code="invalid_ordering",
                )
        ordering = super().get_ordering(request, queryset, view)
        aliases: dict[str, str] = getattr(view, "ordering_aliases", {})
        if not ordering or not aliases:
            return ordering
        return [
            ("-" if name.startswith("-") else "") + aliases.get(name.lstrip("-"), name.lstrip("-")) for name in ordering
        ]

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        """The allowed values as an enum, and the view's own words on what they mean."""
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        names = [name if isinstance(name, str) else name[0] for name in getattr(view, "ordering_fields", [])]
        for parameter in parameters:
            if parameter["name"] == self.ordering_param and names:
                parameter["schema"] = {"type": "string", "enum": [v for n in names for v in (n, f"-{n}")]}
                parameter["description"] = str(getattr(view, "ordering_help", parameter["description"]))
        return parameters


class FilterSetBackend(DjangoFilterBackend):
    """DjangoFilterBackend that skips building and validating the FilterSet's form when the
    request names none of its parameters (the common, unfiltered page)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> QuerySet[Any]:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not set(request.query_params) & set(filterset_class.base_filters):
            return queryset
        return super().filter_queryset(request, queryset, view)  # type: ignore[no-any-return]
