"""Errors of the case domain. `api.exceptions` maps each family to its HTTP status once."""

from __future__ import annotations

from common.exceptions import Conflict, DomainError, FieldError, NotAllowed, NotFound, ValidationFailed

__all__ = [
    "BudgetExceeded",
    "CaseNotFound",
    "ConcurrentChange",
    "Conflict",
    "DomainError",
    "FieldError",
    "Ineligible",
    "InvalidState",
    "NotAllowed",
    "ProgrammeClosed",
    "TransitionNotAllowed",
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
