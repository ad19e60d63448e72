"""Every error as application/problem+json (RFC 9457), mapped in one place.

Domain errors (common.exceptions and their subclasses) map by family: ValidationFailed
400, NotAllowed 403, NotFound 404, Conflict 409, PreconditionFailed 412, TooLarge 413,
UnsupportedMedia 415. DRF's own errors keep their status. A database lock that could not be
had in time (SQLite's busy timeout, PostgreSQL's lock_timeout or a deadlock) is a 503
`busy` with Retry-After: nothing was done, and the same request may well pass in a moment.
Titles and details are translated into the request's language; `type` and `code` never are.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from common.exceptions import (
    Conflict,
    DomainError,
    NotAllowed,
    NotFound,
    PreconditionFailed,
    TooLarge,
    UnsupportedMedia,
    ValidationFailed,
)

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:ipsupport:problem:"


def _titles() -> dict[int, str]:
    return {
        400: _("Invalid request"),
        401: _("Authentication required"),
        403: _("Permission denied"),
        404: _("Not found"),
        405: _("Method not allowed"),
        406: _("Not acceptable"),
        409: _("Conflict with the current state"),
        412: _("Precondition failed"),
        413: _("Request too large"),
        415: _("Unsupported media type"),
        422: _("Unprocessable content"),
        429: _("Too many requests"),
        500: _("Internal server error"),
        503: _("Service unavailable"),
    }


def problem(
    status: int,
    *,
    code: str,
    detail: str,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": _titles().get(status, _("Error")),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    for key, value in (extra or {}).items():
        body.setdefault(key, value)  # extension members never replace the RFC 9457 ones
    return body


# SQLSTATEs of a lock not had in time: lock_not_available (lock_timeout, NOWAIT) and
# deadlock_detected.
LOCK_SQLSTATES = frozenset({"55P03", "40P01"})
BUSY_RETRY_AFTER_SECONDS = 2


def is_lock_timeout(exc: BaseException | None) -> bool:
    """Whether `exc` says a database lock could not be had in time (and logs it if so:
    the operator should hear of every one)."""
    if not isinstance(exc, OperationalError):
        return False
    message = str(exc)
    cause = exc.__cause__
    locked = getattr(cause, "sqlstate", None) in LOCK_SQLSTATES or (  # psycopg 3
        "database is locked" in message or "database table is locked" in message  # SQLite
    )
    if locked:
        logger.error("database lock not had in time, answered 503: %s", message.strip())
    return locked


def busy_problem(instance: str | None) -> dict[str, Any]:
    return problem(
        503, code="busy", detail=_("The service is busy. Retry in a moment: nothing was changed."), instance=instance
    )


def busy_response(request: HttpRequest) -> JsonResponse:
    """The 503 for a lock timeout met outside a view (a middleware's own queries)."""
    response = JsonResponse(
        busy_problem(request.path),
        status=503,
        content_type=PROBLEM_CONTENT_TYPE,
        json_dumps_params={"ensure_ascii": False},
    )
    response["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    return response


def too_large_problem(*, limit: int, instance: str | None) -> dict[str, Any]:
    """A 413 for a body over `limit` bytes."""
    return problem(
        413, code="too_large", detail=_("The request body is too large."), instance=instance, extra={"limit": limit}
    )


def unsupported_media_type_problem(*, allowed: list[str], sent: str, instance: str | None) -> dict[str, Any]:
    """A 415 for a body of media type `sent` (maybe empty) where `allowed` are taken."""
    if sent:
        detail = _("This operation takes a body in %(allowed)s, not %(sent)s.") % {
            "allowed": ", ".join(allowed),
            "sent": sent,
        }
    else:
        detail = _("This operation takes a body in %(allowed)s, named in the Content-Type header.") % {
            "allowed": ", ".join(allowed)
        }
    return problem(415, code="unsupported_media_type", detail=detail, instance=instance, extra={"allowed": allowed})


def etag_for(version: int) -> str:
    """The strong entity tag of a case or an enterprise at `version`."""
    return f'"{version}"'


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested `get_full_details()` → [{"field", "code", "message"}, ...]."""
    if isinstance(detail, dict) and set(detail) == {"message", "code"}:
        return [{"field": prefix or "non_field_errors", "code": str(detail["code"]), "message": str(detail["message"])}]
    out: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors" and prefix:
                name = prefix  # a nested serializer's own error belongs to the field that holds it
            else:
                name = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
            out.extend(_flatten(value, name))
    elif isinstance(detail, list):
        if all(isinstance(item, dict) and set(item) == {"message", "code"} for item in detail):
            for item in detail:
                out.extend(_flatten(item, prefix))
        else:
            for index, item in enumerate(detail):
                out.extend(_flatten(item, f"{prefix}[{index}]"))
    return out


_DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (ValidationFailed, 400),
    (NotAllowed, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PreconditionFailed, 412),
    (TooLarge, 413),
    (UnsupportedMedia, 415),
)


def _domain_response(exc: DomainError, path: str) -> Response:
    status = next((code for cls, code in _DOMAIN_STATUS if isinstance(exc, cls)), 400)
    errors = None
    if isinstance(exc, ValidationFailed):
        errors = [{"field": e.field, "code": e.code, "message": str(e.message)} for e in exc.errors]
    if isinstance(exc, NotFound):
        detail = _("The requested object does not exist or is not visible to you.")
    else:
        detail = str(exc.message)
    body = problem(status, code=exc.code, detail=detail, instance=path, errors=errors, extra=exc.data or None)
    response = Response(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    current = exc.data.get("current_version") if isinstance(exc, PreconditionFailed) else None
    if isinstance(current, int):
        response["ETag"] = etag_for(current)  # what If-Match should have said
    return response


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    path = request.path if request is not None else None
    if isinstance(exc, DomainError):
        return _domain_response(exc, path or "")
    if isinstance(exc, RequestDataTooBig):
        body = too_large_problem(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE, instance=path)
        return Response(body, status=413, content_type=PROBLEM_CONTENT_TYPE)
    if is_lock_timeout(exc):
        set_rollback()
        headers = {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)}
        return Response(busy_problem(path), status=503, content_type=PROBLEM_CONTENT_TYPE, headers=headers)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, drf.APIException):
        return response
    status = response.status_code
    errors = None
    if isinstance(exc, drf.ValidationError):
        errors = _flatten(exc.get_full_details())
        code = "invalid"
        detail = _("The request contains invalid data.")
        if errors and len(errors) == 1:
            detail = errors[0]["message"]
    else:
        full = exc.get_full_details()
        code = str(full.get("code", "error")) if isinstance(full, dict) else "error"
        detail = str(exc.detail) if not isinstance(exc.detail, (list, dict)) else _("Error")
        if isinstance(exc, drf.NotFound):
            detail = _("The requested object does not exist or is not visible to you.")
    if isinstance(exc, drf.UnsupportedMediaType) and request is not None:
        allowed = [parser.media_type for parser in request.parsers]
        sent = request.content_type.split(";")[0].strip()
        response.data = unsupported_media_type_problem(allowed=allowed, sent=sent, instance=path)
    else:
        response.data = problem(status, code=code, detail=detail, instance=path, errors=errors)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _django_problem(request: HttpRequest, status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(
        problem(status, code=code, detail=detail, instance=request.path),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
        json_dumps_params={"ensure_ascii": False},
    )


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _django_problem(request, 404, "not_found", _("No resource at this address."))


def handler500(request: HttpRequest) -> JsonResponse:
    # Django calls this while handling the exception, so it is still the current one.
    if is_lock_timeout(sys.exc_info()[1]):
        return busy_response(request)
    return _django_problem(request, 500, "server_error", _("An unexpected error occurred. It has been logged."))


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        return _django_problem(request, 413, "too_large", _("The request body is too large."))
    return _django_problem(request, 400, "bad_request", _("The request could not be understood."))


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _django_problem(request, 403, "permission_denied", _("You do not have permission to do this."))
