"""Errors of the case domain. `api.exceptions` maps each family to its HTTP status once."""

from __future__ import annotations

from common.exceptions import (
    Conflict,
    DomainError,
    FieldError,
    NotAllowed,
    NotFound,
    TooLarge,
    UnsupportedMedia,
    ValidationFailed,
)

__all__ = [
    "AlreadyReplaced",
    "BudgetExceeded",
    "CaseNotFound",
    "ConcurrentChange",
    "Conflict",
    "DocumentNotFound",
    "DocumentsMissing",
    "DomainError",
    "DuplicateClaim",
    "FieldError",
    "Ineligible",
    "InvalidState",
    "MilestoneMissing",
    "NotAllowed",
    "ProgrammeClosed",
    "TooLarge",
    "TooManyDocuments",
    "TransitionNotAllowed",
    "UnsupportedMedia",
    "ValidationFailed",
]


class CaseNotFound(NotFound):
    code = "case_not_found"


class TransitionNotAllowed(Conflict):
    """The action is not possible from the case's current state."""

    code = "transition_not_allowed"


class InvalidState(Conflict):
    """The case is not in a state that permits this change (edit or delete after draft)."""

    code = "invalid_state"


class ConcurrentChange(Conflict):
    """Someone else changed the case between reading and writing it."""

    code = "concurrent_change"


class BudgetExceeded(Conflict):
    code = "budget_exceeded"


class ProgrammeClosed(Conflict):
    code = "programme_closed"


class Ineligible(Conflict):
    """The case fails a condition of its rule; `checks` lists every condition."""

    code = "ineligible"


class DocumentNotFound(NotFound):
    code = "document_not_found"


class TooManyDocuments(Conflict):
    code = "too_many_documents"


class AlreadyReplaced(Conflict):
    """A new version must replace the current one, not an older version."""

    code = "already_replaced"


class DocumentsMissing(Conflict):
    """The dossier lacks documents the rule (or a supplement request) requires."""

    code = "documents_missing"


class DuplicateClaim(Conflict):
    """Another case already claims this application or certificate number."""

    code = "duplicate_claim"


class MilestoneMissing(Conflict):
    """The rule's payment trigger has not been reached at the IP office (or lacks evidence)."""

    code = "milestone_missing"
