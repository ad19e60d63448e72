"""Filter backends for the API layer (FilterSets live in the domain apps)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from django_filters import FilterSet, utils
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.views import APIView


def single_value(params: QueryDict, name: str) -> str | None:
    """The value of a query parameter that takes one, or None when absent. Given twice, it is a
    400 naming it: Django would quietly keep the last one, which the client may not have meant."""
    values = params.getlist(name)
    if len(values) > 1:
        raise ValidationError({name: [_repeated()]})
    return values[0] if values else None


def _repeated() -> ErrorDetail:
    return ErrorDetail(str(_("Give this parameter only once.")), code="repeated")


def _blank() -> ErrorDetail:
    return ErrorDetail(str(_("This field cannot be blank.")), code="blank")


class StrictOrderingFilter(OrderingFilter):
    """Like DRF's, but an unknown, empty or repeated `ordering` is a 400 instead of being
    silently ignored (or the last one kept).

    A view may name public orderings that sort by another column (`ordering_aliases`).
    """

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: APIView) -> Any:
        params = single_value(request.query_params, self.ordering_param)
        if params is not None and not params.strip():
            raise ValidationError({self.ordering_param: [_blank()]})
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
    request names none of its parameters (the common, unfiltered page), and that answers 400,
    naming the parameter, where django-filter would quietly not filter as asked: a parameter
    given twice whose field reads one value (the last would win), an empty value (no filter at
    all) and a value the field's widget cannot read (`overdue=maybe` reads as "no filter").

    A FilterSet lets an empty value mean "every row" for the parameters it lists in
    `blank_allowed` (a cleared search box)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> QuerySet[Any]:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or not set(request.query_params) & set(filterset_class.base_filters):
            return queryset
        filterset = filterset_class(**self.get_filterset_kwargs(request, queryset, view))
        errors = _loose_values(filterset, request.query_params)
        if errors:
            raise ValidationError(errors)
        if not filterset.is_valid():
            raise utils.translate_validation(filterset.errors)
        filtered: QuerySet[Any] = filterset.qs
        return filtered


def _loose_values(filterset: FilterSet, params: QueryDict) -> dict[str, list[ErrorDetail]]:
    blank_allowed: tuple[str, ...] = getattr(filterset, "blank_allowed", ())
    errors: dict[str, list[ErrorDetail]] = {}
    for name, field in filterset.form.fields.items():
        values = params.getlist(name)
        if not values:
            continue
        if len(values) > 1 and not getattr(field.widget, "allow_multiple_selected", False):
            errors[name] = [_repeated()]
        elif any(not value.strip() for value in values):
            if name not in blank_allowed:
                errors[name] = [_blank()]
        elif isinstance(field, forms.BooleanField):
            # `true` or `false`, as the schema's boolean says; Django's widget would also
            # read "2", "3", "True" and "False", and anything else as no filter at all.
            if values[0] not in ("true", "false"):
                errors[name] = [ErrorDetail(str(_("Must be a valid boolean.")), code="invalid")]
        elif field.widget.value_from_datadict(params, {}, name) is None:
            errors[name] = [ErrorDetail(str(_("Invalid value.")), code="invalid")]
    return errors
