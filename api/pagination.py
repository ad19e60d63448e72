"""Keyset (cursor) pagination: every page costs the same, however deep.

Responses are `{"results": [...], "next": url|null, "previous": url|null}`; `page_size`
goes up to 100. The cursor is opaque; the ordering comes from the view (and `ordering`).
"""

from rest_framework.pagination import CursorPagination


class KeysetPagination(CursorPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-created_at"


class EventPagination(KeysetPagination):
    """An audit trail reads oldest first."""

    ordering = "seq"
