"""Domain errors shared by the domain apps.

The domain raises these; `api.exceptions` maps each family to one HTTP status and a
problem+json body, once. Messages are lazy translations so they render in the language
of the request that triggered them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str | Promise


class DomainError(Exception):
    """Base of every error the domain reports to a caller."""

    code: str = "error"

    def __init__(self, message: str | Promise, *, code: str | None = None, **data: Any) -> None:
        super().__init__(str(message))
        self.message = message
        if code is not None:
            self.code = code
        self.data = data


class ValidationFailed(DomainError):
    """The input breaks a business rule: 400 with one entry per field."""

    code = "invalid"

    def __init__(self, errors: list[FieldError], message: str | Promise | None = None, **data: Any) -> None:
        from django.utils.translation import gettext_lazy as _

        super().__init__(message or _("The request contains invalid data."), **data)
        self.errors = errors

    @classmethod
    def single(cls, field: str, code: str, message: str | Promise, **data: Any) -> ValidationFailed:
        return cls([FieldError(field=field, code=code, message=message)], message=message, **data)


class NotAllowed(DomainError):
    """The actor's role does not permit this: 403."""

    code = "permission_denied"


class NotFound(DomainError):
    """The object does not exist or is not visible to the actor: 404."""

    code = "not_found"


class Conflict(DomainError):
    """The object's current state does not permit this: 409."""

    code = "conflict"


class TooLarge(DomainError):
    """The upload is bigger than allowed: 413."""

    code = "too_large"


class UnsupportedMedia(DomainError):
    """The upload's bytes are not a type the service accepts: 415."""

    code = "unsupported_media_type"


class PreconditionFailed(DomainError):
    """The caller's copy is not the current version (a stale `If-Match`): 412. `data` may
    carry `current_version`, which the API turns into the current `ETag`."""

    code = "precondition_failed"
