"""Request bodies are judged by their headers before anything reads them.

Every body has a limit: an upload operation's is the largest file plus room for the form
(DOCUMENTS_MAX_UPLOAD_BYTES + FORM_OVERHEAD; the file itself is held to its own limit while
it streams in), every other body's REQUEST_MAX_BODY_BYTES (JSON, the admin's forms). A
Content-Length above it is a 413 `too_large` naming the `limit` in bytes; no byte is read,
so nothing is spooled to disk, parsed or waited for. (Under WSGI the body is read through
Django's LimitedStream: never more than Content-Length, and none without one.)

A body an API operation does not take (multipart or a form sent to a JSON operation, JSON
to an upload) is never read: the view answers 415 after its own checks (401, 403, 404…),
before it reads a byte, and the Idempotency-Key middleware asks `takes_body` before it
reads a body ahead of the view.

Goes before every middleware that may read the body (CSRF reads the admin's forms).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import Resolver404, resolve
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser, MultiPartParser

from api.exceptions import PROBLEM_CONTENT_TYPE, too_large_problem
from api.uploads import FORM_OVERHEAD

PARSED_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _content_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0  # as Django reads it: no body


def _parsers(request: HttpRequest) -> list[BaseParser] | None:
    """The parsers of the REST framework view at the request's path, if it has a handler
    for the request's method (None: not one; a 404 or 405 reads no body)."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    view_class = getattr(match.func, "cls", None)
    classes = getattr(view_class, "parser_classes", None)
    if classes is None or not hasattr(view_class, (request.method or "").lower()):
        return None
    return [parser() for parser in classes]


def body_limit(parsers: list[BaseParser] | None) -> int:
    """The most bytes a body may have, for an operation with these parsers."""
    if parsers and any(isinstance(parser, MultiPartParser) for parser in parsers):
        return int(settings.DOCUMENTS_MAX_UPLOAD_BYTES) + FORM_OVERHEAD
    return int(settings.REQUEST_MAX_BODY_BYTES)


class _MediaType:
    """What DRF's negotiation reads of a request: its Content-Type, parameters included."""

    def __init__(self, content_type: str) -> None:
        self.content_type = content_type


def takes_body(request: HttpRequest) -> bool:
    """Whether the operation at the request's path parses a body of the request's media
    type (False: its view refuses it with a 415 without reading it, if it looks at it)."""
    parsers = _parsers(request)
    if parsers is None or request.method not in PARSED_METHODS:
        return False
    content_type = request.META.get("CONTENT_TYPE", "")
    return DefaultContentNegotiation().select_parser(_MediaType(content_type), parsers) is not None  # type: ignore[arg-type]


class RequestBodyMiddleware:
    """See the module's docstring. Before CSRF and the Idempotency-Key middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        length = _content_length(request)
        if length == 0:
            return self.get_response(request)
        limit = body_limit(_parsers(request))
        if length > limit:
            return JsonResponse(
                too_large_problem(limit=limit, instance=request.path),
                status=413,
                content_type=PROBLEM_CONTENT_TYPE,
                json_dumps_params={"ensure_ascii": False},
            )
        return self.get_response(request)
