"""Keyset (cursor) pagination: every page costs the same, however deep.

Responses are `{"results": [...], "next": url|null, "previous": url|null}`; `page_size`
goes up to 100. The cursor is opaque; the ordering comes from the view (and `ordering`).
`page_size` and `cursor` are each given at most once, and never empty.
"""

from __future__ import annotations

from base64 import b64encode
from typing import Any
from urllib import parse

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from api.filters import single_value


class KeysetPagination(CursorPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering: str | tuple[str, ...] = "-created_at"

    def decode_cursor(self, request: Request) -> Cursor | None:
        # DRF answers a tampered cursor with 404, and reads an empty one as the first page;
        # both are bad query parameters.
        encoded = single_value(request.query_params, self.cursor_query_param)
        if encoded is not None and not encoded.strip():
            raise _invalid_cursor()
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise _invalid_cursor() from None
        # DRF's decoding is lenient: base64 skips the characters it does not know, and a
        # query string of unknown or no keys reads as the first page (`%%%` or `Zm9v` gave 200
        # where `garbage` gave 400). Only what `encode_cursor` would have written is a cursor.
        if cursor is not None and _encoded(cursor) != encoded:
            raise _invalid_cursor()
        return cursor

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        # A cursor may decode and still hold a position that is garbage for the ordering.
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, TypeError, DjangoValidationError):
            raise _invalid_cursor() from None

    def get_page_size(self, request: Request) -> int | None:
        size = single_value(request.query_params, self.page_size_query_param)
        if size is not None and not (size.isascii() and size.isdigit() and 0 < int(size) <= self.max_page_size):
            # Above the maximum is refused, not quietly cut to it: the client would page
            # with a size it did not ask for.
            raise ValidationError({"page_size": [_("A positive whole number up to 100.")]}, code="invalid")
        return super().get_page_size(request)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """The parameters as strict as the checks above, so generated requests and clients
        know the bounds."""
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
            elif parameter["name"] == self.cursor_query_param:
                parameter["schema"] = {"type": "string", "minLength": 1}
        return parameters


def _invalid_cursor() -> ValidationError:
    return ValidationError({"cursor": [_("Invalid cursor.")]}, code="invalid_cursor")


def _encoded(cursor: Cursor) -> str:
    """The cursor as DRF's `encode_cursor` writes it, before it goes into a URL."""
    tokens: dict[str, str] = {}
    if cursor.offset != 0:
        tokens["o"] = str(cursor.offset)
    if cursor.reverse:
        tokens["r"] = "1"
    if cursor.position is not None:
        tokens["p"] = str(cursor.position)  # text as decoded; the stubs say int
    return b64encode(parse.urlencode(tokens, doseq=True).encode("ascii")).decode("ascii")


class EventPagination(KeysetPagination):
    """An audit trail reads oldest first."""

    ordering = "seq"


class ByNamePagination(KeysetPagination):
    ordering = "name"


class ProgrammePagination(KeysetPagination):
    ordering = "-opens_on"


class RuleChangePagination(KeysetPagination):
    """A rule's history reads oldest first, like a case's trail."""

    ordering = "at"


class DocumentPagination(KeysetPagination):
    """A case's documents read oldest first, versions in the order they came."""

    ordering = "uploaded_at"


class MilestonePagination(KeysetPagination):
    """The office's steps in the order they happened (same-day steps as recorded)."""

    ordering = ("occurred_on", "recorded_at", "id")


class CalendarPagination(KeysetPagination):
    ordering = "date"
