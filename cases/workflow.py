"""The case workflow as a table, and the one function that applies it.

`TRANSITIONS` maps each action to the states it leaves from, the state it leads to and who
may take it. `apply_transition` is the only code that changes `Case.state`: it checks the
table, writes the new state with a guarded UPDATE (the row must still hold the version that
was read, so of two concurrent actions exactly one wins), appends the audit event in the same
transaction and runs side effects only after commit. `allowed_actions` answers "what may this
user do now" from the same table, and `docs/workflow.md` is generated from it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Principal, Role, principal_for
from cases import notifications
from cases.exceptions import CaseNotFound, ConcurrentChange, NotAllowed, TransitionNotAllowed
from cases.models import Case, CaseEvent, CaseState
from cases.selectors import is_overdue
from common.exceptions import PreconditionFailed
from partners.models import Scope
from webhooks import outbox

S = CaseState
logger = logging.getLogger(__name__)


class Who(enum.Enum):
    """Who may take an action: a role, sometimes narrowed by the case itself."""

    MEMBER = "enterprise member"
    OFFICER = "officer"
    ASSIGNED_OFFICER = "assigned officer"
    MANAGER = "manager"
    MANAGER_NOT_RECOMMENDER = "manager, not the recommender"
    OFFICER_OR_MANAGER = "officer or manager"
    PAYER = "officer, manager or payment partner"

    def has_role(self, principal: Principal, case: Case) -> bool:
        """The role part: may this kind of user ever take the action on this case?"""
        if self is Who.MEMBER:
            return principal.is_member_of(case.enterprise_id)
        if self in (Who.OFFICER, Who.ASSIGNED_OFFICER):
            return principal.has(Role.OFFICER)
        if self in (Who.MANAGER, Who.MANAGER_NOT_RECOMMENDER):
            return principal.has(Role.MANAGER)
        if self is Who.PAYER and principal.may(Scope.PAYMENTS_WRITE):
            return True
        return principal.has(Role.OFFICER) or principal.has(Role.MANAGER)

    def case_refusal(self, principal: Principal, case: Case) -> Promise | None:
        """The case-specific part, checked once the state fits: why not, or None."""
        if self is Who.ASSIGNED_OFFICER and case.assigned_officer_id != principal.user.pk:
            return _("Only the officer assigned to the case can take this action.")
        if self is Who.MANAGER_NOT_RECOMMENDER and case.recommended_by_id == principal.user.pk:
            return _("Four eyes: whoever recommended a case cannot decide it.")
        return None


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[CaseState]
    target: CaseState | None  # None: the state stays as it is (assign)
    who: Who
    label: Promise
    requires: Promise | None = None
    # A condition of the case beyond its state (reschedule: only once overdue), checked
    # with the state: when it fails the action is neither offered nor taken (409).
    when: Callable[[Case], bool] | None = None

    def target_from(self, state: CaseState) -> CaseState:
        return self.target or state

    def possible(self, case: Case) -> bool:
        return case.state in self.sources and (self.when is None or self.when(case))


def _t(
    action: str,
    sources: set[CaseState],
    target: CaseState | None,
    who: Who,
    label: Promise,
    requires: Promise | None = None,
    when: Callable[[Case], bool] | None = None,
) -> Transition:
    return Transition(action, frozenset(sources), target, who, label, requires, when)


def _overdue(case: Case) -> bool:
    return is_overdue(case, timezone.localdate())


_OPEN = {S.SUBMITTED, S.IN_REVIEW, S.AWAITING_SUPPLEMENT}

TRANSITIONS: Mapping[str, Transition] = {
    t.action: t
    for t in (
        _t(
            "submit",
            {S.DRAFT},
            S.SUBMITTED,
            Who.MEMBER,
            _("Submit"),
            _("the programme is open and the case meets its rule (eligibility)"),
        ),
        _t("receive", {S.SUBMITTED}, S.IN_REVIEW, Who.OFFICER, _("Receive")),
        _t(
            "request-supplement",
            {S.IN_REVIEW},
            S.AWAITING_SUPPLEMENT,
            Who.ASSIGNED_OFFICER,
            _("Request supplement"),
            _("a non-empty list of everything missing"),
        ),
        _t("resubmit", {S.AWAITING_SUPPLEMENT}, S.IN_REVIEW, Who.MEMBER, _("Resubmit")),
        _t(
            "recommend",
            {S.IN_REVIEW},
            S.RECOMMENDED,
            Who.ASSIGNED_OFFICER,
            _("Recommend"),
            _("an outcome; an amount within the rule to approve"),
        ),
        _t(
            "approve",
            {S.RECOMMENDED},
            S.APPROVED,
            Who.MANAGER_NOT_RECOMMENDER,
            _("Approve"),
            _("an amount within the rule and the available budget"),
        ),
        _t("reject", {S.RECOMMENDED}, S.REJECTED, Who.MANAGER_NOT_RECOMMENDER, _("Reject"), _("a comment")),
        _t("return", {S.RECOMMENDED}, S.IN_REVIEW, Who.MANAGER, _("Return for review"), _("a comment")),
        _t("withdraw", _OPEN, S.WITHDRAWN, Who.MEMBER, _("Withdraw")),
        _t(
            "disburse",
            {S.APPROVED},
            S.DISBURSED,
            Who.PAYER,
            _("Record payment"),
            _("an amount up to the approved one, the payment date and reference"),
        ),
        _t("cancel", {S.APPROVED}, S.CANCELLED, Who.MANAGER, _("Cancel"), _("a comment")),
        _t("assign", _OPEN, None, Who.MANAGER, _("Assign officer"), _("an active officer")),
        _t(
            "reschedule",
            {S.IN_REVIEW, S.RECOMMENDED},
            None,
            Who.ASSIGNED_OFFICER,
            _("Apologise and reschedule"),
            _("an overdue case; a new appointment date (a working day) and the reason"),
            when=_overdue,
        ),
    )
}

ACTIONS: tuple[str, ...] = tuple(TRANSITIONS)


def is_visible(principal: Principal, case: Case) -> bool:
    """Drafts only to the enterprise's members; the rest also to officers and managers,
    and to partner systems that reach the enterprise."""
    if case.deleted_at is not None:
        return False
    if principal.is_member_of(case.enterprise_id):
        return True
    return case.state != CaseState.DRAFT and (principal.sees_all or principal.reaches(case.enterprise_id))


def allowed_actions(case: Case, principal: Principal) -> list[str]:
    """The actions this principal may take on this case now, in table order. No queries."""
    return [
        t.action
        for t in TRANSITIONS.values()
        if t.possible(case)
        and case.deleted_at is None
        and t.who.has_role(principal, case)
        and t.who.case_refusal(principal, case) is None
    ]


def authorize(case: Case, action: str, actor: User) -> Transition:
    """Return the transition if `actor` may take `action` on `case` now, else raise.

    Order matters for the answer a caller gets: a case the actor cannot see is CaseNotFound
    (404); a role that can never take the action is NotAllowed (403); a state the action
    does not leave from is TransitionNotAllowed (409); a case-specific refusal (not the
    assigned officer, the recommender deciding) is NotAllowed (403).
    """
    transition = TRANSITIONS[action]
    principal = principal_for(actor)
    if not is_visible(principal, case):
        raise CaseNotFound(_("No such case."))
    if not transition.who.has_role(principal, case):
        raise NotAllowed(
            _("Your role does not permit the action “%(action)s”.") % {"action": transition.label},
            action=action,
        )
    if case.state not in transition.sources:
        raise TransitionNotAllowed(
            _("The action “%(action)s” is not possible while the case is “%(state)s”.")
            % {"action": transition.label, "state": CaseState(case.state).label},
            action=action,
            state=case.state,
        )
    if not transition.possible(case):
        raise TransitionNotAllowed(
            _("The action “%(action)s” needs %(requires)s.")
            % {"action": transition.label, "requires": transition.requires},
            action=action,
            state=case.state,
        )
    refusal = transition.who.case_refusal(principal, case)
    if refusal is not None:
        raise NotAllowed(refusal, action=action)
    return transition


@dataclass
class Effect:
    """What an action changes besides the state, and what it records."""

    changes: dict[str, Any] = field(default_factory=dict)
    comment: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    on_commit: list[Callable[[], None]] = field(default_factory=list)


def record_event(
    *,
    case: Case,
    action: str,
    actor: User,
    from_state: str,
    to_state: str,
    comment: str = "",
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    """Append an event at position `case.version` (call after bumping the version), and
    its outbox row for partners' webhooks, in the same transaction."""
    event = CaseEvent.objects.create(
        case=case,
        seq=case.version,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        at=case.updated_at,
        comment=comment,
        data=data or {},
    )
    outbox.publish_case_event(case=case, event=event)
    return event


def require_version(case: Case, expected_version: int | None) -> None:
    """Raise PreconditionFailed unless `expected_version` (the caller's If-Match; None: no
    condition) is the version of `case` as read. Cheap, so views call it before reading
    the body; the guarded update is what settles it."""
    if expected_version is not None and case.version != expected_version:
        raise _stale(case.version)


def _stale(current_version: int | None) -> PreconditionFailed:
    message = _("The case has changed since you read it. Read it again, then decide whether your change still applies.")
    if current_version is None:  # deleted meanwhile
        return PreconditionFailed(message)
    return PreconditionFailed(message, current_version=current_version)


def guarded_update(case: Case, *, changes: dict[str, Any], expected_version: int | None = None) -> None:
    """Write `changes` only if the row still holds the version that was read; bump it.

    With `expected_version` (the caller's If-Match) the version read must also be that one.
    Raises ConcurrentChange when another writer got there first, PreconditionFailed instead
    when the caller named the version it expected. Updates `case` in memory.
    """
    require_version(case, expected_version)
    now = timezone.now()
    updated = Case.objects.filter(pk=case.pk, version=case.version, deleted_at__isnull=True).update(
        version=F("version") + 1, updated_at=now, **changes
    )
    if updated != 1:
        if expected_version is not None:
            current = Case.objects.filter(pk=case.pk, deleted_at__isnull=True).values_list("version", flat=True)
            raise _stale(current.first())
        raise ConcurrentChange(_("The case was changed by someone else at the same time. Reload it and try again."))
    for name, value in changes.items():
        setattr(case, name, value)
    case.version += 1
    case.updated_at = now


def apply_transition(
    *, case: Case, action: str, actor: User, effect: Effect, expected_version: int | None = None
) -> Case:
    """Take `action` on `case` for `actor`: state, changes and event in one transaction.

    Call `authorize` first (the service does, before validating its input); this checks
    again, so a caller cannot skip it. Side effects in `effect.on_commit` run only if the
    transaction commits. With `expected_version` (If-Match) the guarded update also requires
    that version, raising PreconditionFailed otherwise.
    """
    transition = authorize(case, action, actor)
    from_state = case.state
    to_state = transition.target_from(CaseState(from_state))
    # The caller's transaction (every service is atomic) holds the update and the event
    # together; no savepoint of our own, and nothing is written before the guard passes.
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("apply_transition must run inside the caller's transaction")
    guarded_update(case, changes={"state": to_state, **effect.changes}, expected_version=expected_version)
    event = record_event(
        case=case,
        action=action,
        actor=actor,
        from_state=from_state,
        to_state=to_state,
        comment=effect.comment,
        data=effect.data,
    )
    log: Callable[[], None] = partial(_log_transition, case.pk, action, actor.pk, from_state, to_state)
    callbacks = [*effect.on_commit, log]
    if notifications.should_notify(event):
        callbacks.append(partial(notifications.notify_case_event, event))
    for callback in callbacks:
        transaction.on_commit(callback)
    return case


def _log_transition(case_id: object, action: str, actor_id: object, from_state: str, to_state: str) -> None:
    """The operations log line of a committed transition (the audit trail is the event)."""
    logger.info(
        "case %s: %s by %s, %s -> %s",
        case_id,
        action,
        actor_id,
        from_state,
        to_state,
        extra={"case_id": str(case_id), "action": action, "actor_id": str(actor_id)},
    )
