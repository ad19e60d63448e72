"""Writes to programmes and cases. Views, admin and commands all call these functions.

Every case change goes through `cases.workflow` (state) or `_edit` (draft fields), and
each leaves one event in the case's trail in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role, principal_for
from applicants.models import Enterprise
from cases.exceptions import (
    BudgetExceeded,
    FieldError,
    InvalidState,
    NotAllowed,
    ProgrammeClosed,
    ValidationFailed,
)
from cases.models import BudgetEntry, Case, CaseState, LedgerKind, Programme, ReferenceCounter, SupportRule
from cases.selectors import programme_budget
from cases.workflow import Effect, apply_transition, authorize, guarded_update, record_event

logger = logging.getLogger(__name__)

MAX_AMOUNT = 100_000_000_000  # 100 bn VND: far above any support item, below any overflow
DRAFT_FIELDS = frozenset({"support_type", "title", "details", "requested_amount", "programme"})


# --- Programmes ---------------------------------------------------------------------------


def _require_manager(actor: User) -> None:
    if not principal_for(actor).has(Role.MANAGER):
        raise NotAllowed(_("Only managers can change programmes."))


def _validate_programme(programme: Programme, rules: list[dict[str, Any]] | None) -> None:
    errors: list[FieldError] = []
    if programme.closes_on < programme.opens_on:
        errors.append(FieldError("closes_on", "before_opens_on", _("The closing date is before the opening date.")))
    if programme.budget_total < 0:
        errors.append(FieldError("budget_total", "negative", _("The budget cannot be negative.")))
    if not 2000 <= programme.year <= 2100:
        errors.append(FieldError("year", "out_of_range", _("The year is out of range.")))
    if rules is not None:
        seen: set[str] = set()
        for index, rule in enumerate(rules):
            if rule["support_type"] in seen:
                errors.append(
                    FieldError(
                        f"rules[{index}].support_type",
                        "duplicate",
                        _("Each support type may have only one rule."),
                    )
                )
            seen.add(rule["support_type"])
    if errors:
        raise ValidationFailed(errors)


def _replace_rules(programme: Programme, rules: list[dict[str, Any]]) -> None:
    SupportRule.objects.filter(programme=programme).delete()
    SupportRule.objects.bulk_create([SupportRule(programme=programme, **rule) for rule in rules])


@transaction.atomic
def programme_create(*, actor: User, data: dict[str, Any], rules: list[dict[str, Any]]) -> Programme:
    """Create a programme with its rules (managers). Raises NotAllowed, ValidationFailed."""
    _require_manager(actor)
    programme = Programme(**data)
    _validate_programme(programme, rules)
    duplicate = ValidationFailed.single("code", "duplicate", _("A programme with this code already exists."))
    if Programme.objects.filter(code=programme.code).exists():
        raise duplicate
    try:
        with transaction.atomic():
            programme.save()
    except IntegrityError:  # created by someone else since the check
        raise duplicate from None
    _replace_rules(programme, rules)
    return programme


@transaction.atomic
def programme_update(
    *, actor: User, programme: Programme, data: dict[str, Any], rules: list[dict[str, Any]] | None
) -> Programme:
    """Change a programme; `rules`, when given, replaces the whole rule set.

    The budget cannot drop below what approved and disbursed cases already hold.
    """
    _require_manager(actor)
    programme = Programme.objects.select_for_update().get(pk=programme.pk)
    for name, value in data.items():
        setattr(programme, name, value)
    _validate_programme(programme, rules)
    budget = programme_budget(programme=programme)
    committed = budget.committed + budget.disbursed
    if programme.budget_total < committed:
        raise ValidationFailed.single(
            "budget_total",
            "below_committed",
            _("The budget cannot be lower than the %(amount)s VND already committed.") % {"amount": committed},
        )
    if rules is not None:
        in_use = set(
            Case.objects.filter(programme=programme, deleted_at__isnull=True).values_list("support_type", flat=True)
        )
        missing = in_use - {rule["support_type"] for rule in rules}
        if missing:
            raise ValidationFailed.single(
                "rules",
                "rule_in_use",
                _("Cases exist for these support types, so their rules cannot be removed: %(types)s.")
                % {"types": ", ".join(sorted(missing))},
            )
        _replace_rules(programme, rules)
    programme.save()
    return programme


def _record_budget(*, case: Case, kind: str, amount: int, actor: User) -> None:
    """Append one ledger movement for `case` (inside the caller's transaction)."""
    if amount > 0:
        BudgetEntry.objects.create(
            programme_id=case.programme_id,
            case=case,
            support_type=case.support_type,
            kind=kind,
            amount=amount,
            at=timezone.now(),
            actor=actor,
        )


# --- Drafts ------------------------------------------------------------------------------


def _rule_for(programme: Programme, support_type: str) -> SupportRule:
    rule = SupportRule.objects.filter(programme=programme, support_type=support_type).first()
    if rule is None:
        raise ValidationFailed.single(
            "support_type",
            "no_rule",
            _("The programme does not support this type of application."),
        )
    return rule


def _lock_programme(programme: Programme) -> None:
    """Hold the programme row until commit: programme_update locks it too before it
    replaces rules, so a draft cannot be written for a rule that is being removed."""
    Programme.objects.select_for_update().filter(pk=programme.pk).first()


def _validate_draft(case: Case) -> None:
    errors: list[FieldError] = []
    if not case.title.strip():
        errors.append(FieldError("title", "blank", _("The title cannot be blank.")))
    if not 0 < case.requested_amount <= MAX_AMOUNT:
        errors.append(FieldError("requested_amount", "out_of_range", _("The amount must be a positive number of VND.")))
    if not isinstance(case.details, dict):
        errors.append(FieldError("details", "not_object", _("Details must be a JSON object.")))
    if errors:
        raise ValidationFailed(errors)
    _rule_for(case.programme, case.support_type)


@transaction.atomic
def case_create(
    *,
    actor: User,
    enterprise: Enterprise,
    programme: Programme,
    support_type: str,
    title: str,
    requested_amount: int,
    details: dict[str, Any] | None = None,
) -> Case:
    """Open a draft for one of the actor's enterprises. Raises NotAllowed, ValidationFailed."""
    if not principal_for(actor).is_member_of(enterprise.pk):
        raise NotAllowed(_("Only members of the enterprise can apply on its behalf."))
    case = Case(
        enterprise=enterprise,
        programme=programme,
        support_type=support_type,
        title=title.strip(),
        requested_amount=requested_amount,
        details=details or {},
        created_by=actor,
    )
    _lock_programme(programme)
    _validate_draft(case)
    case.save()
    record_event(
        case=case,
        action="create",
        actor=actor,
        from_state="",
        to_state=CaseState.DRAFT,
        data={"support_type": support_type, "requested_amount": requested_amount},
    )
    return case


def require_editable_draft(*, case: Case, actor: User) -> None:
    """Raise NotAllowed unless the actor is a member, InvalidState unless it is a draft."""
    if not principal_for(actor).is_member_of(case.enterprise_id):
        raise NotAllowed(_("Only members of the enterprise can change its applications."))
    if case.state != CaseState.DRAFT:
        raise InvalidState(_("Only a draft can be changed or deleted; this case has been submitted."))


@transaction.atomic
def case_update(*, actor: User, case: Case, data: dict[str, Any]) -> Case:
    """Edit a draft. Records one `update` event with the fields that changed."""
    require_editable_draft(case=case, actor=actor)
    unknown = set(data) - DRAFT_FIELDS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    changed = {name: value for name, value in data.items() if getattr(case, name) != value}
    if not changed:
        return case
    for name, value in changed.items():
        setattr(case, name, value)
    _lock_programme(case.programme)
    _validate_draft(case)
    guarded_update(case, changes=changed)
    record_event(
        case=case,
        action="update",
        actor=actor,
        from_state=CaseState.DRAFT,
        to_state=CaseState.DRAFT,
        data={"fields": sorted(changed)},
    )
    return case


@transaction.atomic
def case_delete(*, actor: User, case: Case) -> None:
    """Delete a draft: it disappears from every list, its trail stays."""
    require_editable_draft(case=case, actor=actor)
    now = timezone.now()
    guarded_update(case, changes={"deleted_at": now})
    record_event(case=case, action="delete", actor=actor, from_state=CaseState.DRAFT, to_state=CaseState.DRAFT)


# --- Workflow actions ----------------------------------------------------------------------


def _next_reference(prefix: str, year: int) -> str:
    """Issue the next receipt code for (prefix, year) inside the caller's transaction.

    The UPDATE takes the counter row's lock until commit, so concurrent submissions get
    consecutive, unique numbers; a rolled-back submission gives its number back.
    """
    for _attempt in range(2):
        if ReferenceCounter.objects.filter(prefix=prefix, year=year).update(last_value=F("last_value") + 1):
            break
        try:
            with transaction.atomic():
                ReferenceCounter.objects.create(prefix=prefix, year=year, last_value=1)
            break
        except IntegrityError:
            continue  # another submission created the row first: increment it
    value = ReferenceCounter.objects.get(prefix=prefix, year=year).last_value
    return f"{prefix}-{year}-{value:05d}"


def _require_comment(comment: str) -> str:
    if not comment.strip():
        raise ValidationFailed.single("comment", "required", _("A comment is required for this action."))
    return comment.strip()


def _check_amount(case: Case, amount: int, field: str = "amount") -> None:
    rule = _rule_for(case.programme, case.support_type)
    if amount <= 0:
        raise ValidationFailed.single(field, "not_positive", _("The amount must be positive."))
    if amount > case.requested_amount:
        raise ValidationFailed.single(
            field,
            "above_requested",
            _("The amount cannot exceed the requested %(limit)s VND.") % {"limit": case.requested_amount},
        )
    if amount > rule.cap_amount:
        raise ValidationFailed.single(
            field,
            "above_cap",
            _("The amount cannot exceed the rule's cap of %(limit)s VND per item.") % {"limit": rule.cap_amount},
        )


@transaction.atomic
def case_submit(*, case: Case, actor: User, comment: str = "") -> Case:
    """Submit a draft (members). Assigns the receipt code. Raises ProgrammeClosed (409)."""
    authorize(case, "submit", actor)
    today = timezone.localdate()
    programme = case.programme
    if not programme.opens_on <= today <= programme.closes_on:
        raise ProgrammeClosed(
            _("The programme accepts applications from %(opens)s to %(closes)s.")
            % {"opens": programme.opens_on.isoformat(), "closes": programme.closes_on.isoformat()}
        )
    _rule_for(programme, case.support_type)
    now = timezone.now()
    reference = _next_reference(programme.reference_prefix, timezone.localtime(now).year)
    effect = Effect(
        changes={"reference": reference, "submitted_at": now},
        comment=comment,
        data={"reference": reference},
    )
    return apply_transition(case=case, action="submit", actor=actor, effect=effect)


@transaction.atomic
def case_receive(*, case: Case, actor: User, comment: str = "") -> Case:
    """An officer takes the dossier in; they become its officer if it has none."""
    authorize(case, "receive", actor)
    changes: dict[str, Any] = {"received_at": timezone.now()}
    data: dict[str, Any] = {}
    if case.assigned_officer_id is None:
        changes["assigned_officer"] = actor
        data["assigned_officer"] = str(actor.pk)
    return apply_transition(
        case=case, action="receive", actor=actor, effect=Effect(changes=changes, comment=comment, data=data)
    )


@transaction.atomic
def case_request_supplement(*, case: Case, actor: User, items: list[str], comment: str = "") -> Case:
    """Ask for everything missing in one request (one-stop rules). `items` must be non-empty."""
    authorize(case, "request-supplement", actor)
    cleaned = [item.strip() for item in items if item.strip()]
    if not cleaned:
        raise ValidationFailed.single(
            "items", "empty", _("List every missing document or correction: at least one item.")
        )
    effect = Effect(comment=comment, data={"items": cleaned})
    return apply_transition(case=case, action="request-supplement", actor=actor, effect=effect)


@transaction.atomic
def case_resubmit(*, case: Case, actor: User, comment: str = "") -> Case:
    authorize(case, "resubmit", actor)
    return apply_transition(case=case, action="resubmit", actor=actor, effect=Effect(comment=comment))


@transaction.atomic
def case_recommend(*, case: Case, actor: User, outcome: str, comment: str, amount: int | None = None) -> Case:
    """The assigned officer proposes approve (with an amount) or reject, with reasons."""
    authorize(case, "recommend", actor)
    comment = _require_comment(comment)
    if outcome not in ("approve", "reject"):
        raise ValidationFailed.single("outcome", "invalid_choice", _("The outcome must be approve or reject."))
    if outcome == "approve":
        if amount is None:
            raise ValidationFailed.single("amount", "required", _("An amount is required to recommend approval."))
        _check_amount(case, amount)
    else:
        amount = None
    effect = Effect(
        changes={"recommendation": outcome, "recommended_amount": amount, "recommended_by": actor},
        comment=comment,
        data={"outcome": outcome, "amount": amount},
    )
    return apply_transition(case=case, action="recommend", actor=actor, effect=effect)


@transaction.atomic
def case_approve(*, case: Case, actor: User, amount: int | None = None, comment: str = "") -> Case:
    """A manager other than the recommender approves, committing budget.

    The programme row is locked while the available budget is checked, so concurrent
    approvals cannot overspend. Raises BudgetExceeded (409) when the amount does not fit.
    """
    authorize(case, "approve", actor)
    if amount is None:
        amount = case.recommended_amount
    if amount is None:
        raise ValidationFailed.single(
            "amount", "required", _("The recommendation carries no amount: give the amount to approve.")
        )
    _check_amount(case, amount)
    programme = Programme.objects.select_for_update().get(pk=case.programme_id)
    available = programme_budget(programme=programme).available
    if amount > available:
        raise BudgetExceeded(
            _("The programme's available budget (%(available)s VND) is less than %(amount)s VND.")
            % {"available": available, "amount": amount},
            available=available,
        )
    effect = Effect(
        changes={"approved_amount": amount, "decided_at": timezone.now()},
        comment=comment,
        data={"amount": amount, "available_before": available},
    )
    apply_transition(case=case, action="approve", actor=actor, effect=effect)
    _record_budget(case=case, kind=LedgerKind.COMMIT, amount=amount, actor=actor)
    return case


@transaction.atomic
def case_reject(*, case: Case, actor: User, comment: str) -> Case:
    authorize(case, "reject", actor)
    effect = Effect(changes={"decided_at": timezone.now()}, comment=_require_comment(comment))
    return apply_transition(case=case, action="reject", actor=actor, effect=effect)


@transaction.atomic
def case_return(*, case: Case, actor: User, comment: str) -> Case:
    """A manager sends the recommendation back; the officer recommends again."""
    authorize(case, "return", actor)
    effect = Effect(
        changes={"recommendation": "", "recommended_amount": None, "recommended_by": None},
        comment=_require_comment(comment),
        data={"recommendation": case.recommendation, "recommended_amount": case.recommended_amount},
    )
    return apply_transition(case=case, action="return", actor=actor, effect=effect)


@transaction.atomic
def case_withdraw(*, case: Case, actor: User, comment: str = "") -> Case:
    authorize(case, "withdraw", actor)
    return apply_transition(case=case, action="withdraw", actor=actor, effect=Effect(comment=comment))


@transaction.atomic
def case_disburse(
    *, case: Case, actor: User, amount: int, paid_on: dt.date, payment_reference: str, comment: str = ""
) -> Case:
    """Record the payment. A smaller amount than approved releases the rest of the budget."""
    authorize(case, "disburse", actor)
    errors: list[FieldError] = []
    if amount <= 0:
        errors.append(FieldError("amount", "not_positive", _("The amount must be positive.")))
    elif case.approved_amount is not None and amount > case.approved_amount:
        errors.append(
            FieldError(
                "amount",
                "above_approved",
                _("The payment cannot exceed the approved %(limit)s VND.") % {"limit": case.approved_amount},
            )
        )
    today = timezone.localdate()
    decided_on = timezone.localdate(case.decided_at) if case.decided_at else None
    if paid_on > today:
        errors.append(FieldError("paid_on", "in_future", _("The payment date cannot be in the future.")))
    elif decided_on and paid_on < decided_on:
        errors.append(FieldError("paid_on", "before_decision", _("The payment date is before the decision.")))
    if not payment_reference.strip():
        errors.append(FieldError("payment_reference", "blank", _("The payment reference is required.")))
    if errors:
        raise ValidationFailed(errors)
    effect = Effect(
        changes={"disbursed_amount": amount, "paid_on": paid_on, "payment_reference": payment_reference.strip()},
        comment=comment,
        data={"amount": amount, "paid_on": paid_on.isoformat(), "payment_reference": payment_reference.strip()},
    )
    apply_transition(case=case, action="disburse", actor=actor, effect=effect)
    _record_budget(case=case, kind=LedgerKind.SPEND, amount=amount, actor=actor)
    _record_budget(case=case, kind=LedgerKind.RELEASE, amount=(case.approved_amount or 0) - amount, actor=actor)
    return case


@transaction.atomic
def case_cancel(*, case: Case, actor: User, comment: str) -> Case:
    """A manager cancels an approved case; its amount returns to the budget."""
    authorize(case, "cancel", actor)
    effect = Effect(comment=_require_comment(comment), data={"released": case.approved_amount})
    apply_transition(case=case, action="cancel", actor=actor, effect=effect)
    _record_budget(case=case, kind=LedgerKind.RELEASE, amount=case.approved_amount or 0, actor=actor)
    return case


@transaction.atomic
def case_assign(*, case: Case, actor: User, officer_id: uuid.UUID | str, comment: str = "") -> Case:
    """A manager gives the case to an officer (active, in the officer role)."""
    authorize(case, "assign", actor)
    officer = User.objects.filter(pk=officer_id, is_active=True, groups__name=Role.OFFICER).first()
    if officer is None:
        raise ValidationFailed.single("officer", "not_an_officer", _("The user is not an active officer."))
    effect = Effect(
        changes={"assigned_officer": officer},
        comment=comment,
        data={
            "officer": str(officer.pk),
            "previous": str(case.assigned_officer_id) if case.assigned_officer_id else None,
        },
    )
    return apply_transition(case=case, action="assign", actor=actor, effect=effect)
