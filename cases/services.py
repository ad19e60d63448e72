"""Writes to programmes and cases. Views, admin and commands all call these functions.

Every case change goes through `cases.workflow` (state) or `_edit` (draft fields), and
each leaves one event in the case's trail in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet, Sum
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role, principal_for
from applicants import divisions
from applicants.models import Enterprise, LegalForm, SizeClass
from cases import checklist, files, limits, selectors, slips
from cases.calendar import WorkingCalendar
from cases.exceptions import (
    AlreadyReplaced,
    BudgetExceeded,
    CaseNotFound,
    ConcurrentChange,
    Conflict,
    DocumentsMissing,
    DuplicateClaim,
    FieldError,
    Ineligible,
    InvalidState,
    MilestoneMissing,
    NotAllowed,
    ProgrammeClosed,
    TooLarge,
    TooManyDocuments,
    UnsupportedMedia,
    ValidationFailed,
)
from cases.models import (
    IP_SUPPORT_TYPES,
    MARK_TYPES,
    BudgetEntry,
    CalendarOverride,
    Case,
    CaseState,
    ClaimAllowance,
    ClaimedNumber,
    ClaimKind,
    CostLine,
    Document,
    DocumentKind,
    Filing,
    IpOffice,
    LedgerKind,
    Milestone,
    MilestoneKind,
    PaymentTrigger,
    Programme,
    ReferenceCounter,
    RuleChangeKind,
    SupportRule,
    SupportRuleChange,
    SupportType,
    queue_key_for,
)
from cases.selectors import programme_budget
from cases.workflow import (
    Effect,
    apply_transition,
    authorize,
    guarded_update,
    is_visible,
    record_event,
    require_version,
)
from common.formats import vnd
from partners.models import Scope

logger = logging.getLogger(__name__)

MAX_AMOUNT = 100_000_000_000  # 100 bn VND: far above any support item, below any overflow
MAX_COST_LINES = 50
MAX_ELIGIBLE_COST = MAX_AMOUNT  # the sum of a case's cost lines
COST_LINE_FIELDS = ("description", "amount", "invoice_number", "invoice_date", "payee")
DRAFT_FIELDS = frozenset({"support_type", "title", "details", "requested_amount", "programme"})


# --- Programmes ---------------------------------------------------------------------------


def require_manager(*, actor: User, message: str | Promise | None = None) -> None:
    """Raise NotAllowed unless the actor is a manager (programmes, rules, the calendar).
    Views call it before reading the body, so a caller without the role learns that first."""
    if not principal_for(actor).has(Role.MANAGER):
        raise NotAllowed(message or _("Only managers can change programmes."))


RULE_FIELDS = (
    "percent",
    "cap_amount",
    "enterprise_year_cap",
    "max_items_per_enterprise",
    "legal_forms",
    "size_classes",
    "province_codes",
    "startup_required",
    "payment_trigger",
    "legal_basis",
    "documents_at_submission",
    "documents_before_payment",
    "processing_days",
)


# The rule's fields that hold a list of codes (empty: any, or nothing required).
RULE_LIST_FIELDS = (
    "legal_forms",
    "size_classes",
    "province_codes",
    "documents_at_submission",
    "documents_before_payment",
)


def rule_errors(values: dict[str, Any], *, prefix: str = "") -> list[FieldError]:
    """What is wrong with a rule's values (API and admin both come through here)."""
    errors: list[FieldError] = []

    def error(name: str, code: str, message: str | Promise) -> None:
        errors.append(FieldError(f"{prefix}{name}", code, message))

    percent = values.get("percent")
    if percent is not None and not 0 < Decimal(percent) <= 100:
        error("percent", "out_of_range", _("The percentage must be above 0 and at most 100."))
    cap = values.get("cap_amount")
    if cap is not None and not 0 < cap <= MAX_AMOUNT:
        error("cap_amount", "out_of_range", _("The cap must be a positive number of VND."))
    year_cap = values.get("enterprise_year_cap")
    if year_cap is not None and not 0 < year_cap <= MAX_AMOUNT:
        error("enterprise_year_cap", "out_of_range", _("The yearly cap must be a positive number of VND, or empty."))
    processing = values.get("processing_days")
    if processing is not None and not 1 <= processing <= 365:
        error("processing_days", "out_of_range", _("The processing time must be from 1 to 365 working days."))
    items = values.get("max_items_per_enterprise")
    if items is not None and not 0 < items <= 1000:
        error("max_items_per_enterprise", "out_of_range", _("The number of items must be from 1 to 1000, or empty."))
    choices: tuple[tuple[str, list[str]], ...] = (
        ("legal_forms", LegalForm.values),
        ("size_classes", SizeClass.values),
        ("documents_at_submission", DocumentKind.values),
        ("documents_before_payment", DocumentKind.values),
    )
    for name in RULE_LIST_FIELDS:
        if name not in values:
            continue
        listed = values[name]
        if not (isinstance(listed, list) and all(isinstance(v, str) for v in listed)):
            error(name, "invalid", _("Give a list of codes."))
            values = {**values, name: []}
    for name, allowed in choices:
        chosen = values.get(name) or []
        if any(value not in allowed for value in chosen) or len(set(chosen)) != len(chosen):
            error(
                name,
                "invalid_choice",
                _("Choose only from these values, each at most once: %(allowed)s.") % {"allowed": ", ".join(allowed)},
            )
    provinces = values.get("province_codes") or []
    if any(divisions.province_name(code) is None for code in provinces) or len(set(provinces)) != len(provinces):
        error("province_codes", "invalid_province", _("Each province code must be a current province, listed once."))
    trigger = values.get("payment_trigger")
    if trigger is not None and trigger not in PaymentTrigger.values:
        error(
            "payment_trigger",
            "invalid_choice",
            _("The payment trigger must be valid_application or certificate_granted."),
        )
    return errors


def _save_rule(rule: SupportRule, values: dict[str, Any], *, actor: User | None) -> None:
    """Apply `values` to `rule`, save it if anything changed and record the change."""
    before = limits.rule_values(rule)
    for name, value in values.items():
        setattr(rule, name, value)
    after = limits.rule_values(rule)
    adding = rule._state.adding
    changed = sorted(name for name in RULE_FIELDS if before[name] != after[name])
    if not adding and not changed:
        return
    rule.save()
    SupportRuleChange.objects.create(
        programme_id=rule.programme_id,
        support_type=rule.support_type,
        kind=RuleChangeKind.CREATED if adding else RuleChangeKind.CHANGED,
        before={} if adding else {name: before[name] for name in changed},
        after={name: after[name] for name in RULE_FIELDS} if adding else {name: after[name] for name in changed},
        actor=actor,
        at=rule.updated_at,  # the same instant the rule shows as its last change
    )


def _remove_rules(programme: Programme, support_types: set[str], *, actor: User | None) -> None:
    for rule in SupportRule.objects.filter(programme=programme, support_type__in=support_types):
        SupportRuleChange.objects.create(
            programme=programme,
            support_type=rule.support_type,
            kind=RuleChangeKind.REMOVED,
            before={name: value for name, value in limits.rule_values(rule).items() if name in RULE_FIELDS},
            actor=actor,
            at=timezone.now(),
        )
        rule.delete()


# The years a programme or a calendar change may concern: beyond them a date is a typo
# (year 1, 9999), and the invoice and deadline arithmetic would run off the calendar.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def _programme_date_errors(programme: Programme) -> list[FieldError]:
    """A programme of year Y opens in Y-1 or Y (a call may open before its year starts) and
    closes in Y or Y+1 (or run into the next); the invoice period is derived from these dates."""
    year = programme.year
    bounds = {
        "opens_on": (
            dt.date(year - 1, 1, 1),
            dt.date(year, 12, 31),
            _("A programme of %(year)s opens between %(earliest)s and %(latest)s."),
        ),
        "closes_on": (
            dt.date(year, 1, 1),
            dt.date(year + 1, 12, 31),
            _("A programme of %(year)s closes between %(earliest)s and %(latest)s."),
        ),
    }
    errors = []
    for name, (earliest, latest, message) in bounds.items():
        if not earliest <= getattr(programme, name) <= latest:
            values = {"year": year, "earliest": earliest.isoformat(), "latest": latest.isoformat()}
            errors.append(FieldError(name, "out_of_range", message % values))
    return errors


def _validate_programme(programme: Programme, rules: list[dict[str, Any]] | None) -> None:
    errors: list[FieldError] = []
    if programme.closes_on < programme.opens_on:
        errors.append(FieldError("closes_on", "before_opens_on", _("The closing date is before the opening date.")))
    if programme.budget_total < 0:
        errors.append(FieldError("budget_total", "negative", _("The budget cannot be negative.")))
    if not FIRST_YEAR <= programme.year <= LAST_YEAR:
        errors.append(FieldError("year", "out_of_range", _("The year is out of range.")))
    else:
        errors.extend(_programme_date_errors(programme))
    if rules is not None:
        seen: set[str] = set()
        for index, rule in enumerate(rules):
            missing = [name for name in ("support_type", "percent", "cap_amount") if rule.get(name) is None]
            for name in missing:
                errors.append(FieldError(f"rules[{index}].{name}", "required", _("This field is required.")))
            if missing:
                continue
            if rule["support_type"] in seen:
                errors.append(
                    FieldError(
                        f"rules[{index}].support_type",
                        "duplicate",
                        _("Each support type may have only one rule."),
                    )
                )
            seen.add(rule["support_type"])
            errors.extend(rule_errors(rule, prefix=f"rules[{index}]."))
    if errors:
        raise ValidationFailed(errors)


def _replace_rules(programme: Programme, rules: list[dict[str, Any]], *, actor: User) -> None:
    """Make the programme's support types exactly those in `rules`: a listed type's rule
    is updated in place (its id stays; fields not given keep their values), new types get
    the model's defaults for fields not given, and types no longer listed are removed."""
    wanted = {rule["support_type"]: rule for rule in rules}
    existing = {rule.support_type: rule for rule in SupportRule.objects.filter(programme=programme)}
    _remove_rules(programme, set(existing) - set(wanted), actor=actor)
    for support_type, values in wanted.items():
        rule = existing.get(support_type) or SupportRule(programme=programme, support_type=support_type)
        _save_rule(rule, {name: values[name] for name in RULE_FIELDS if name in values}, actor=actor)


@transaction.atomic
def programme_create(*, actor: User, data: dict[str, Any], rules: list[dict[str, Any]]) -> Programme:
    """Create a programme with its rules (managers). Raises NotAllowed, ValidationFailed."""
    require_manager(actor=actor)
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
    _replace_rules(programme, rules, actor=actor)
    return programme


@transaction.atomic
def programme_update(
    *, actor: User, programme: Programme, data: dict[str, Any], rules: list[dict[str, Any]] | None
) -> Programme:
    """Change a programme; `rules`, when given, replaces the whole rule set.

    The budget cannot drop below what approved and disbursed cases already hold.
    """
    require_manager(actor=actor)
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
            _("The budget cannot be lower than the %(amount)s VND already committed.") % {"amount": vnd(committed)},
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
        _replace_rules(programme, rules, actor=actor)
    programme.save()
    return programme


@transaction.atomic
def rule_update(*, actor: User, rule: SupportRule, data: dict[str, Any]) -> SupportRule:
    """Change one rule (managers), recording a SupportRuleChange. Cases already decided
    keep the values their decision recorded; cases not yet decided are measured against
    the new values. Raises NotAllowed, ValidationFailed."""
    require_manager(actor=actor)
    unknown = set(data) - set(RULE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    Programme.objects.select_for_update().filter(pk=rule.programme_id).first()
    rule = SupportRule.objects.get(pk=rule.pk)
    errors = rule_errors(data)
    if errors:
        raise ValidationFailed(errors)
    _save_rule(rule, data, actor=actor)
    return rule


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
    rule = limits.rule_for(programme_id=programme.pk, support_type=support_type)
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


def _record_aside(*, case: Case, action: str, actor: User, data: dict[str, Any], comment: str = "") -> None:
    """An event for a change beside the workflow (a file, the costs, the office's steps):
    the state stays what it is."""
    record_event(
        case=case, action=action, actor=actor, from_state=case.state, to_state=case.state, comment=comment, data=data
    )


def _clean_cost_lines(case: Case, lines: list[dict[str, Any]]) -> list[CostLine]:
    """Cost lines as rows, or ValidationFailed naming each bad field.

    An invoice is dated within the programme's year or its open period (costs incurred
    before a programme opens in its year are eligible), never in the future.
    """
    programme = case.programme
    earliest = min(dt.date(programme.year, 1, 1), programme.opens_on)
    latest = min(max(dt.date(programme.year, 12, 31), programme.closes_on), timezone.localdate())
    errors: list[FieldError] = []
    if len(lines) > MAX_COST_LINES:
        errors.append(
            FieldError("cost_lines", "too_many", _("At most %(count)s cost lines.") % {"count": MAX_COST_LINES})
        )
    rows: list[CostLine] = []
    for index, line in enumerate(lines[:MAX_COST_LINES]):
        field = f"cost_lines[{index}]."
        values = {name: line.get(name) for name in COST_LINE_FIELDS}
        for name in ("description", "invoice_number", "payee"):
            values[name] = str(values[name] or "").strip()
            if not values[name]:
                errors.append(FieldError(field + name, "blank", _("This field cannot be blank.")))
        amount = values["amount"]
        if not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
            errors.append(
                FieldError(field + "amount", "out_of_range", _("The amount must be a positive number of VND."))
            )
        invoice_date = values["invoice_date"]
        if not isinstance(invoice_date, dt.date) or not earliest <= invoice_date <= latest:
            errors.append(
                FieldError(
                    field + "invoice_date",
                    "out_of_period",
                    _(
                        "The invoice date must be from %(earliest)s to %(latest)s:"
                        " the programme's period, not in the future."
                    )
                    % {"earliest": earliest.isoformat(), "latest": latest.isoformat()},
                )
            )
        rows.append(CostLine(case=case, position=index + 1, **values))
    total = sum(line.get("amount") or 0 for line in lines if isinstance(line.get("amount"), int))
    if total > MAX_ELIGIBLE_COST:
        errors.append(
            FieldError(
                "cost_lines",
                "total_too_large",
                _("The cost lines add up to more than %(limit)s VND.") % {"limit": vnd(MAX_ELIGIBLE_COST)},
            )
        )
    if errors:
        raise ValidationFailed(errors)
    return rows


def _cost_lines_data(rows: list[CostLine]) -> dict[str, Any]:
    """The cost lines as the trail keeps them: a replaced set is never lost."""
    return {
        "cost_lines": [
            {
                "description": row.description,
                "amount": row.amount,
                "invoice_number": row.invoice_number,
                "invoice_date": row.invoice_date.isoformat(),
                "payee": row.payee,
            }
            for row in rows
        ],
        "eligible_cost": sum(row.amount for row in rows),
    }


def _lock_enterprise(enterprise_id: uuid.UUID) -> None:
    """Hold the enterprise's row until commit, so two writes that count what the firm
    holds (drafts, stored bytes) cannot both pass its quota. Always the last lock taken."""
    Enterprise.objects.select_for_update().filter(pk=enterprise_id).first()


def _check_draft_quota(enterprise: Enterprise) -> None:
    """Raise Conflict `too_many_drafts` (with `limit` and `drafts`) when the firm already
    keeps CASES_MAX_DRAFTS_PER_ENTERPRISE drafts (deleted ones do not count)."""
    _lock_enterprise(enterprise.pk)
    limit = settings.CASES_MAX_DRAFTS_PER_ENTERPRISE
    drafts = Case.objects.filter(enterprise=enterprise, state=CaseState.DRAFT, deleted_at__isnull=True).count()
    if drafts >= limit:
        raise Conflict(
            _("An enterprise may keep at most %(limit)s drafts: submit or delete one before opening another.")
            % {"limit": limit},
            code="too_many_drafts",
            limit=limit,
            drafts=drafts,
        )


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
    cost_lines: list[dict[str, Any]] | None = None,
) -> Case:
    """Open a draft for one of the actor's enterprises, with its cost lines if given.
    Raises NotAllowed, ValidationFailed, Conflict `too_many_drafts`."""
    if not principal_for(actor).is_member_of(enterprise.pk):
        raise NotAllowed(_("Only members of the enterprise can apply on its behalf."))
    now = timezone.now()
    case = Case(
        enterprise=enterprise,
        programme=programme,
        support_type=support_type,
        title=title.strip(),
        requested_amount=requested_amount,
        details=details or {},
        created_by=actor,
        queue_key=queue_key_for(priority=0, submitted_at=None, created_at=now),
    )
    _lock_programme(programme)
    _check_draft_quota(enterprise)
    _validate_draft(case)
    rows = _clean_cost_lines(case, cost_lines or [])
    case.save()
    CostLine.objects.bulk_create(rows)
    record_event(
        case=case,
        action="create",
        actor=actor,
        from_state="",
        to_state=CaseState.DRAFT,
        data={"support_type": support_type, "requested_amount": requested_amount, **_cost_lines_data(rows)},
    )
    return case


COST_EDITABLE_STATES = frozenset({CaseState.DRAFT, CaseState.AWAITING_SUPPLEMENT})


def require_cost_lines_editable(*, case: Case, actor: User) -> None:
    """Members change the costs of a draft or of a dossier awaiting a supplement; the
    assigned officer corrects them during review, from the invoices in the dossier (an
    ineligible invoice struck out, a typo fixed). Checked like a workflow action: role
    (NotAllowed), then state (InvalidState), then the assigned officer (NotAllowed).
    Views call it before reading the body."""
    principal = principal_for(actor)
    if principal.is_member_of(case.enterprise_id):
        if case.state not in COST_EDITABLE_STATES:
            raise InvalidState(_("Costs can be changed only in a draft or while a supplement is requested."))
        return
    if not principal.has(Role.OFFICER):
        raise NotAllowed(_("Only the enterprise's members and the assigned officer can change the costs."))
    if case.state != CaseState.IN_REVIEW:
        raise InvalidState(_("An officer corrects the costs only while the case is in review."))
    if case.assigned_officer_id != actor.pk:
        raise NotAllowed(_("Only the officer assigned to the case can take this action."))


@transaction.atomic
def case_cost_lines_replace(
    *, case: Case, actor: User, cost_lines: list[dict[str, Any]], expected_version: int | None = None
) -> Case:
    """Replace the case's cost lines (see `require_cost_lines_editable` for who and when).

    Records a `cost_lines` event holding the new set, so every earlier set stays in the
    trail. Raises NotAllowed, InvalidState, ValidationFailed, ConcurrentChange,
    PreconditionFailed (a stale `expected_version`, as every service taking one).
    """
    require_cost_lines_editable(case=case, actor=actor)
    rows = _clean_cost_lines(case, cost_lines)
    guarded_update(case, changes={}, expected_version=expected_version)
    CostLine.objects.filter(case=case).delete()
    CostLine.objects.bulk_create(rows)
    _record_aside(
        case=case,
        action="cost_lines",
        actor=actor,
        data=_cost_lines_data(rows),
    )
    return case


def require_editable_draft(*, case: Case, actor: User) -> None:
    """Raise NotAllowed unless the actor is a member, InvalidState unless it is a draft."""
    if not principal_for(actor).is_member_of(case.enterprise_id):
        raise NotAllowed(_("Only members of the enterprise can change its applications."))
    if case.state != CaseState.DRAFT:
        raise InvalidState(_("Only a draft can be changed or deleted; this case has been submitted."))


@transaction.atomic
def case_update(*, actor: User, case: Case, data: dict[str, Any], expected_version: int | None = None) -> Case:
    """Edit a draft. Records one `update` event with the fields that changed. With
    `expected_version` (If-Match), only that version is changed (PreconditionFailed)."""
    require_editable_draft(case=case, actor=actor)
    require_version(case, expected_version)  # also when nothing changes
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
    if "programme" in changed:  # the invoices must fall in the new programme's period too
        _clean_cost_lines(
            case, [{name: getattr(line, name) for name in COST_LINE_FIELDS} for line in case.cost_lines.all()]
        )
    guarded_update(case, changes=changed, expected_version=expected_version)
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
def case_delete(*, actor: User, case: Case, expected_version: int | None = None) -> None:
    """Delete a draft: it disappears from every list, its trail stays."""
    require_editable_draft(case=case, actor=actor)
    now = timezone.now()
    guarded_update(case, changes={"deleted_at": now}, expected_version=expected_version)
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


def _check_amount(case: Case, amount: int, rule: SupportRule | None = None) -> limits.Supportable:
    """Refuse an amount above what the rule allows, saying which limit bites."""
    if amount <= 0:
        raise ValidationFailed.single("amount", "not_positive", _("The amount must be positive."))
    support = selectors.case_supportable(case=case, rule=rule or _rule_for(case.programme, case.support_type))
    if amount > support.amount:
        binding = support.binding
        raise ValidationFailed.single(
            "amount",
            "above_supportable",
            _("%(amount)s VND is above the %(max)s VND this case can receive: %(reason)s.")
            % {"amount": vnd(amount), "max": vnd(support.amount), "reason": binding.reason},
            max_supportable_amount=support.amount,
            limit=binding.code,
        )
    return support


def _require_documents(case: Case, *stages: str) -> None:
    """Raise DocumentsMissing (409, listing each missing kind) unless the checklist's
    items of these stages are satisfied."""
    missing = selectors.case_checklist(case=case).missing(*stages)
    if missing:
        raise DocumentsMissing(
            _("The dossier lacks these documents: %(kinds)s.")
            % {"kinds": ", ".join(str(DocumentKind(item.kind).label) for item in missing)},
            missing=[{"kind": item.kind, "stage": item.stage, "status": item.status} for item in missing],
        )


@transaction.atomic
def case_submit(*, case: Case, actor: User, comment: str = "", expected_version: int | None = None) -> Case:
    """Submit a draft (members). Assigns the receipt code and the queue position.

    The enterprise's row is locked while eligibility is checked, so two drafts submitted
    at once cannot both take the enterprise's last item. Raises ProgrammeClosed or
    Ineligible (409, with every check).
    """
    authorize(case, "submit", actor)
    today = timezone.localdate()
    programme = case.programme
    if not programme.opens_on <= today <= programme.closes_on:
        raise ProgrammeClosed(
            _("The programme accepts applications from %(opens)s to %(closes)s.")
            % {"opens": programme.opens_on.isoformat(), "closes": programme.closes_on.isoformat()}
        )
    case.enterprise = Enterprise.objects.select_for_update().get(pk=case.enterprise_id)
    result = selectors.case_eligibility(case=case)
    if not result.eligible:
        raise Ineligible(
            _("The application does not meet the rule: %(reasons)s")
            % {"reasons": " ".join(str(check.reason) for check in result.failed)},
            checks=result.as_data(),
        )
    _require_documents(case, checklist.SUBMISSION)
    filing = Filing.objects.filter(case=case).first()
    if filing is not None:  # a draft's number was not checked against others: it is now
        others = Case.objects.filter(
            filing__office=filing.office, filing__application_number__iexact=filing.application_number
        )
        _check_claim(case, ClaimKind.APPLICATION_NUMBER, filing.application_number, others)
    priority = case.enterprise.priority_flags
    now = timezone.now()
    reference = _next_reference(programme.reference_prefix, timezone.localtime(now).year)
    effect = Effect(
        changes={
            "reference": reference,
            "submitted_at": now,
            "priority": priority,
            "queue_key": queue_key_for(priority=priority, submitted_at=now, created_at=case.created_at),
        },
        comment=comment,
        data={"reference": reference, "priority": priority},
    )
    return apply_transition(case=case, action="submit", actor=actor, effect=effect, expected_version=expected_version)


@transaction.atomic
def case_receive(*, case: Case, actor: User, comment: str = "", expected_version: int | None = None) -> Case:
    """An officer takes the dossier in; they become its officer if it has none. The case
    gets its appointment date (the rule's processing time in working days from today) and
    the receipt slip, stored among its documents."""
    authorize(case, "receive", actor)
    now = timezone.now()
    rule = _rule_for(case.programme, case.support_type)
    due_on = WorkingCalendar().add(timezone.localdate(now), rule.processing_days)
    changes: dict[str, Any] = {"received_at": now, "due_on": due_on, "due_key": due_on.strftime("%Y%m%d")}
    data: dict[str, Any] = {"due_on": due_on.isoformat(), "processing_days": rule.processing_days}
    if case.assigned_officer_id is None:
        changes["assigned_officer"] = actor
        data["assigned_officer"] = str(actor.pk)
    apply_transition(
        case=case,
        action="receive",
        actor=actor,
        effect=Effect(changes=changes, comment=comment, data=data),
        expected_version=expected_version,
    )
    documents = Document.objects.filter(case=case, replaced_by__isnull=True).order_by("uploaded_at")
    slip = slips.receipt_slip(case=case, documents=documents, received_on=timezone.localdate(now), due_on=due_on)
    _store_slip(case=case, actor=actor, kind=DocumentKind.RECEIPT_SLIP, content=slip, name="phieu-tiep-nhan")
    return case


def _store_slip(*, case: Case, actor: User, kind: str, content: bytes, name: str) -> Document:
    """Keep a slip the office issued as a document of the case (and an event)."""
    filename = f"{name}-{case.reference}.pdf"
    return _store_document(
        case=case, actor=actor, kind=kind, file=ContentFile(content, name=filename), name=filename, slip=True
    )


@transaction.atomic
def case_request_supplement(
    *,
    case: Case,
    actor: User,
    items: list[str],
    comment: str = "",
    document_kinds: list[str] | None = None,
    reason: str = "",
    expected_version: int | None = None,
) -> Case:
    """Ask for everything missing in one request (one-stop rules). `items` must be non-empty;
    `document_kinds` (and any item that is a document kind) ask for documents the
    checklist then shows as requested. The clock stops until the applicant resubmits.

    The rules want everything missing listed at once: a second request needs a `reason`
    and is recorded as counting against the office.
    """
    authorize(case, "request-supplement", actor)
    cleaned = [item.strip() for item in items if item.strip()]
    if not cleaned:
        raise ValidationFailed.single(
            "items", "empty", _("List every missing document or correction: at least one item.")
        )
    again = case.supplement_requests >= 1
    if again and not reason.strip():
        raise ValidationFailed.single(
            "reason",
            "required",
            _("Everything missing should have been asked at once: say why a further supplement is needed."),
        )
    # An item that is a document kind (e.g. "invoice") asks for a document of that kind:
    # the checklist shows it as requested until one is uploaded.
    kinds = [k for k in dict.fromkeys([*(document_kinds or []), *cleaned]) if k in DocumentKind.values]
    data: dict[str, Any] = {"items": cleaned, "document_kinds": kinds}
    if again:
        data.update(counts_against_office=True, reason=reason.strip())
    effect = Effect(
        changes={"clock_stopped_on": timezone.localdate(), "supplement_requests": case.supplement_requests + 1},
        comment=comment,
        data=data,
    )
    return apply_transition(
        case=case, action="request-supplement", actor=actor, effect=effect, expected_version=expected_version
    )


@transaction.atomic
def case_resubmit(*, case: Case, actor: User, comment: str = "", expected_version: int | None = None) -> Case:
    """Send the supplemented dossier back to review (members).

    The costs may have changed during the supplement: a dossier left without any cost
    line is refused with Ineligible (409), as at submission. The other conditions were
    met at submission and are not judged again.
    """
    authorize(case, "resubmit", actor)
    result = selectors.case_eligibility(case=case)
    costs = next(check for check in result.checks if check.code == "cost_lines")
    if not costs.passed:
        raise Ineligible(costs.reason, checks=result.as_data())
    _require_documents(case, checklist.SUBMISSION, checklist.SUPPLEMENT)
    changes: dict[str, Any] = {"clock_stopped_on": None}
    data: dict[str, Any] = {}
    if case.due_on is not None and case.clock_stopped_on is not None:
        # The clock stood still while the applicant supplemented: the appointment moves
        # by the working days that passed (counted from the day after the request).
        calendar = WorkingCalendar()
        stopped = calendar.count(case.clock_stopped_on, timezone.localdate())
        due_on = calendar.add(case.due_on, stopped)
        changes.update(
            due_on=due_on, due_key=due_on.strftime("%Y%m%d"), paused_working_days=case.paused_working_days + stopped
        )
        data.update(paused_working_days=stopped, due_on=due_on.isoformat())
    effect = Effect(changes=changes, comment=comment, data=data)
    return apply_transition(case=case, action="resubmit", actor=actor, effect=effect, expected_version=expected_version)


@transaction.atomic
def case_recommend(
    *,
    case: Case,
    actor: User,
    outcome: str,
    comment: str,
    amount: int | None = None,
    expected_version: int | None = None,
) -> Case:
    """The assigned officer proposes approve (with an amount) or reject, with reasons."""
    authorize(case, "recommend", actor)
    comment = _require_comment(comment)
    if outcome not in ("approve", "reject"):
        raise ValidationFailed.single("outcome", "invalid_choice", _("The outcome must be approve or reject."))
    data: dict[str, Any] = {"outcome": outcome, "amount": None}
    if outcome == "approve":
        if amount is None:
            raise ValidationFailed.single("amount", "required", _("An amount is required to recommend approval."))
        data.update(amount=amount, supportable=_check_amount(case, amount).as_data())
    else:
        amount = None
    effect = Effect(
        changes={"recommendation": outcome, "recommended_amount": amount, "recommended_by": actor},
        comment=comment,
        data=data,
    )
    return apply_transition(
        case=case, action="recommend", actor=actor, effect=effect, expected_version=expected_version
    )


@transaction.atomic
def case_approve(
    *, case: Case, actor: User, amount: int | None = None, comment: str = "", expected_version: int | None = None
) -> Case:
    """A manager other than the recommender approves, committing budget and recording
    the rule's values and the amount's breakdown on the case (`decided_rule`).

    The programme row is locked before the enterprise's yearly cap and the available
    budget are read, so concurrent approvals can exceed neither. Raises ValidationFailed
    (400) above the supportable amount, BudgetExceeded (409) when the budget cannot cover it.
    """
    authorize(case, "approve", actor)
    if amount is None:
        amount = case.recommended_amount
    if amount is None:
        raise ValidationFailed.single(
            "amount", "required", _("The recommendation carries no amount: give the amount to approve.")
        )
    if amount <= 0:
        raise ValidationFailed.single("amount", "not_positive", _("The amount must be positive."))
    programme = Programme.objects.select_for_update().get(pk=case.programme_id)
    rule = _rule_for(programme, case.support_type)
    support = _check_amount(case, amount, rule)
    available = programme_budget(programme=programme).available
    if amount > available:
        raise BudgetExceeded(
            _("The programme's available budget (%(available)s VND) is less than %(amount)s VND.")
            % {"available": vnd(available), "amount": vnd(amount)},
            available=available,
        )
    decided_rule = {**limits.rule_values(rule), "supportable": support.as_data()}
    effect = Effect(
        changes={"approved_amount": amount, "decided_at": timezone.now(), "decided_rule": decided_rule},
        comment=comment,
        data={"amount": amount, "available_before": available, "rule": decided_rule},
    )
    apply_transition(case=case, action="approve", actor=actor, effect=effect, expected_version=expected_version)
    _record_budget(case=case, kind=LedgerKind.COMMIT, amount=amount, actor=actor)
    return case


@transaction.atomic
def case_reject(*, case: Case, actor: User, comment: str, expected_version: int | None = None) -> Case:
    authorize(case, "reject", actor)
    effect = Effect(changes={"decided_at": timezone.now()}, comment=_require_comment(comment))
    return apply_transition(case=case, action="reject", actor=actor, effect=effect, expected_version=expected_version)


@transaction.atomic
def case_return(*, case: Case, actor: User, comment: str, expected_version: int | None = None) -> Case:
    """A manager sends the recommendation back; the officer recommends again."""
    authorize(case, "return", actor)
    effect = Effect(
        changes={"recommendation": "", "recommended_amount": None, "recommended_by": None},
        comment=_require_comment(comment),
        data={"recommendation": case.recommendation, "recommended_amount": case.recommended_amount},
    )
    return apply_transition(case=case, action="return", actor=actor, effect=effect, expected_version=expected_version)


@transaction.atomic
def case_withdraw(*, case: Case, actor: User, comment: str = "", expected_version: int | None = None) -> Case:
    """The applicant withdraws an open case; a running clock stops for good."""
    authorize(case, "withdraw", actor)
    changes: dict[str, Any] = {}
    if case.due_on is not None and case.clock_stopped_on is None:
        changes["clock_stopped_on"] = timezone.localdate()
    return apply_transition(
        case=case,
        action="withdraw",
        actor=actor,
        effect=Effect(changes=changes, comment=comment),
        expected_version=expected_version,
    )


@transaction.atomic
def case_disburse(
    *,
    case: Case,
    actor: User,
    amount: int,
    paid_on: dt.date,
    payment_reference: str,
    comment: str = "",
    expected_version: int | None = None,
) -> Case:
    """Record the payment. A smaller amount than approved releases the rest of the budget.
    Raises DocumentsMissing (409) while the rule's documents before payment are missing."""
    authorize(case, "disburse", actor)
    errors: list[FieldError] = []
    if amount <= 0:
        errors.append(FieldError("amount", "not_positive", _("The amount must be positive.")))
    elif case.approved_amount is not None and amount > case.approved_amount:
        errors.append(
            FieldError(
                "amount",
                "above_approved",
                _("The payment cannot exceed the approved %(limit)s VND.") % {"limit": vnd(case.approved_amount)},
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
    _require_documents(case, checklist.PAYMENT)
    _require_payment_milestone(case)
    effect = Effect(
        changes={"disbursed_amount": amount, "paid_on": paid_on, "payment_reference": payment_reference.strip()},
        comment=comment,
        data={"amount": amount, "paid_on": paid_on.isoformat(), "payment_reference": payment_reference.strip()},
    )
    apply_transition(case=case, action="disburse", actor=actor, effect=effect, expected_version=expected_version)
    _record_budget(case=case, kind=LedgerKind.SPEND, amount=amount, actor=actor)
    _record_budget(case=case, kind=LedgerKind.RELEASE, amount=(case.approved_amount or 0) - amount, actor=actor)
    return case


@transaction.atomic
def case_cancel(*, case: Case, actor: User, comment: str, expected_version: int | None = None) -> Case:
    """A manager cancels an approved case; its amount returns to the budget."""
    authorize(case, "cancel", actor)
    effect = Effect(comment=_require_comment(comment), data={"released": case.approved_amount})
    apply_transition(case=case, action="cancel", actor=actor, effect=effect, expected_version=expected_version)
    _record_budget(case=case, kind=LedgerKind.RELEASE, amount=case.approved_amount or 0, actor=actor)
    return case


@transaction.atomic
def case_reschedule(
    *, case: Case, actor: User, due_on: dt.date, reason: str, comment: str = "", expected_version: int | None = None
) -> Case:
    """The assigned officer apologises for an overdue case and gives a new appointment date
    (a working day after today): an event, an apology slip among the case's documents, and
    one more reschedule in the statistics. Raises NotAllowed, TransitionNotAllowed (409,
    also when the case is not overdue), ValidationFailed."""
    authorize(case, "reschedule", actor)  # the table's condition: only an overdue case
    today = timezone.localdate()
    errors: list[FieldError] = []
    if not reason.strip():
        errors.append(FieldError("reason", "required", _("Say why the result is late.")))
    if due_on <= today:
        errors.append(FieldError("due_on", "not_future", _("The new date must be after today.")))
    elif due_on > today + RESCHEDULE_HORIZON:
        errors.append(FieldError("due_on", "too_far", _("The new date must be within a year.")))
    elif not WorkingCalendar().is_working_day(due_on):
        errors.append(FieldError("due_on", "day_off", _("The new date must be a working day.")))
    if errors:
        raise ValidationFailed(errors)
    previous = case.due_on
    assert previous is not None  # the table's condition: overdue, so it has a date
    effect = Effect(
        changes={"due_on": due_on, "due_key": due_on.strftime("%Y%m%d"), "reschedules": case.reschedules + 1},
        comment=comment or reason.strip(),
        data={"previous_due_on": previous.isoformat(), "due_on": due_on.isoformat(), "reason": reason.strip()},
    )
    apply_transition(case=case, action="reschedule", actor=actor, effect=effect, expected_version=expected_version)
    slip = slips.apology_slip(
        case=case, issued_on=today, previous_due_on=previous, due_on=due_on, reason=reason.strip()
    )
    _store_slip(case=case, actor=actor, kind=DocumentKind.APOLOGY_SLIP, content=slip, name="phieu-xin-loi")
    return case


@transaction.atomic
def case_assign(
    *, case: Case, actor: User, officer_id: uuid.UUID | str, comment: str = "", expected_version: int | None = None
) -> Case:
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
    return apply_transition(case=case, action="assign", actor=actor, effect=effect, expected_version=expected_version)


# --- Documents ------------------------------------------------------------------------------

DOCUMENT_STATES = frozenset({CaseState.DRAFT, CaseState.AWAITING_SUPPLEMENT})
SLIP_KINDS = frozenset({DocumentKind.RECEIPT_SLIP, DocumentKind.APOLOGY_SLIP})
RESCHEDULE_HORIZON = dt.timedelta(days=365)
NAME_PROBLEMS: dict[str, Promise] = {
    "blank": _("The file needs a name."),
    "too_long": _("The file name may have at most 255 characters."),
    "path": _("The file name may not contain a path (/ or \\)."),
    "control_character": _("The file name may not contain control or invisible characters."),
    "executable": _("The file name may not end in an extension that runs or renders as a program (.exe, .js, .html…)."),
}


def require_document_upload(*, case: Case, actor: User) -> None:
    """Members add documents to a draft or to a dossier awaiting a supplement, and to an
    approved case the documents its rule requires before payment (see `_check_upload_kind`);
    otherwise documents are read-only. Raises NotAllowed, InvalidState. Views call it
    before reading the upload."""
    if not principal_for(actor).is_member_of(case.enterprise_id):
        raise NotAllowed(_("Only members of the enterprise can add documents to its applications."))
    payment_kinds = (case.decided_rule or {}).get("documents_before_payment", [])
    if case.state not in DOCUMENT_STATES and not (case.state == CaseState.APPROVED and payment_kinds):
        raise InvalidState(_("Documents can be added only to a draft or while a supplement is requested."))


def _check_upload_kind(case: Case, kind: str, replaces: Document | None) -> None:
    """An approved case takes only new documents of the kinds its decided rule requires
    before payment (an invoice, an acceptance record), never a new version of one."""
    if case.state != CaseState.APPROVED:
        return
    wanted = (case.decided_rule or {}).get("documents_before_payment", [])
    if kind not in wanted or replaces is not None:
        raise InvalidState(
            _("An approved case takes only the documents its rule requires before payment: %(kinds)s.")
            % {"kinds": ", ".join(str(DocumentKind(k).label) for k in wanted) or "-"}
        )


def check_document_name(name: str) -> None:
    """Raise ValidationFailed on `file` for a name that is not safe to keep and show."""
    problem = files.name_problem(name)
    if problem is not None:
        raise ValidationFailed.single("file", f"name_{problem}", NAME_PROBLEMS[problem])


@transaction.atomic
def document_upload(
    *,
    case: Case,
    actor: User,
    kind: str,
    file: File[bytes],
    name: str,
    note: str = "",
    replaces: Document | None = None,
    expected_version: int | None = None,
) -> Document:
    """Store an uploaded file as a document of the case, or as a new version of one.

    The bytes decide the type (PDF, PNG, JPEG, DOCX, XLSX, ODT); the stored name is made
    by the server. The upload is a `document_upload` event. Raises NotAllowed,
    InvalidState, ValidationFailed, TooLarge (413), UnsupportedMedia (415),
    TooManyDocuments and AlreadyReplaced (409), ConcurrentChange.
    """
    require_document_upload(case=case, actor=actor)
    if kind in SLIP_KINDS or (replaces is not None and replaces.kind in SLIP_KINDS):
        raise ValidationFailed.single("kind", "office_only", _("Only the office issues receipt and apology slips."))
    _check_upload_kind(case, kind, replaces)
    return _store_document(
        case=case,
        actor=actor,
        kind=kind,
        file=file,
        name=name,
        note=note,
        replaces=replaces,
        expected_version=expected_version,
    )


def _lock_for_append(case: Case, expected_version: int | None = None) -> None:
    """Take the case row's lock and move to its current version before appending to it.

    An upload or a milestone adds to the case rather than overwriting what someone read,
    so two members uploading at once should both succeed (one after the other), not get a
    409 for a change they could not have lost. The state is checked again under the lock:
    a case submitted meanwhile is no longer open for documents.
    """
    current = Case.objects.select_for_update().only("version", "state").get(pk=case.pk)
    require_version(current, expected_version)  # If-Match: the version under the lock
    if current.state != case.state:
        raise ConcurrentChange(_("The case was changed by someone else at the same time. Reload it and try again."))
    case.version = current.version
    guarded_update(case, changes={})


def _check_storage_quota(case: Case, size: int) -> None:
    """Raise Conflict `storage_quota_exceeded` (with `limit`, `used` and `size`, in bytes)
    when storing `size` more bytes would take the firm's documents past
    DOCUMENTS_MAX_BYTES_PER_ENTERPRISE. Every case and version counts, deleted drafts too
    (their files are kept); the office's slips do not."""
    _lock_enterprise(case.enterprise_id)
    limit = settings.DOCUMENTS_MAX_BYTES_PER_ENTERPRISE
    stored = Document.objects.filter(case__enterprise_id=case.enterprise_id).exclude(kind__in=SLIP_KINDS)
    used = stored.aggregate(total=Sum("size"))["total"] or 0
    if used + size > limit:
        raise Conflict(
            _("The enterprise's documents may take at most %(limit)s in all; %(used)s are stored already.")
            % {"limit": filesizeformat(limit), "used": filesizeformat(used)},
            code="storage_quota_exceeded",
            limit=limit,
            used=used,
            size=size,
        )


def _store_document(
    *,
    case: Case,
    actor: User,
    kind: str,
    file: File[bytes],
    name: str,
    note: str = "",
    replaces: Document | None = None,
    slip: bool = False,
    expected_version: int | None = None,
) -> Document:
    """Check, store and record one file (inside the caller's transaction; the caller has
    checked who may upload it and when). A slip the office issues does not count against
    the applicant's file limit."""
    check_document_name(name)
    limit = settings.DOCUMENTS_MAX_UPLOAD_BYTES
    too_large = TooLarge(_("A file may have at most %(size)s.") % {"size": filesizeformat(limit)}, limit=limit)
    if (file.size or 0) > limit:
        raise too_large
    zip_limits = files.ZipLimits(
        entries=settings.DOCUMENTS_ZIP_MAX_ENTRIES, expanded=settings.DOCUMENTS_ZIP_MAX_EXPANDED_BYTES
    )
    try:
        inspected = files.inspect(file, zip_limits=zip_limits)
    except files.ArchiveTooLarge:
        raise ValidationFailed.single(
            "file",
            "archive_too_large",
            _("An office document may hold at most %(entries)s parts and %(size)s once expanded.")
            % {"entries": zip_limits.entries, "size": filesizeformat(zip_limits.expanded)},
        ) from None
    if inspected is None:
        raise UnsupportedMedia(
            _("The file must be a PDF, PNG, JPEG, DOCX, XLSX or ODT document, judged by its content."),
            allowed=sorted(files.ALLOWED),
        )
    if inspected.size > limit:
        raise too_large
    if replaces is not None:
        replaces = Document.objects.select_for_update().get(pk=replaces.pk)
        if replaces.case_id != case.pk:
            raise ValidationFailed.single("replaces", "other_case", _("The document replaced must be of this case."))
        if Document.objects.filter(replaces=replaces).exists():
            raise AlreadyReplaced(_("That version has already been replaced: replace the current one."))
        if replaces.kind != kind:
            raise ValidationFailed.single(
                "kind", "kind_mismatch", _("A new version keeps the kind of the document it replaces.")
            )
    _lock_for_append(case, expected_version)
    uploaded = Document.objects.filter(case=case).exclude(kind__in=SLIP_KINDS)
    if not slip and uploaded.count() >= settings.DOCUMENTS_MAX_PER_CASE:
        raise TooManyDocuments(
            _("A case may hold at most %(count)s files, every version counted.")
            % {"count": settings.DOCUMENTS_MAX_PER_CASE}
        )
    if not slip:
        _check_storage_quota(case, inspected.size)
    document = Document(
        case=case,
        kind=kind,
        note=note.strip(),
        original_name=name,
        extension=inspected.extension,
        media_type=inspected.media_type,
        size=inspected.size,
        sha256=inspected.sha256,
        version=replaces.version + 1 if replaces else 1,
        replaces=replaces,
        uploaded_by=actor,
        uploaded_at=timezone.now(),
    )
    document.file.save(document.id.hex, file, save=False)
    try:
        document.save()
        _record_aside(
            case=case,
            action="document_upload",
            actor=actor,
            data={
                "document": str(document.pk),
                "kind": kind,
                "name": name,
                "media_type": inspected.media_type,
                "size": inspected.size,
                "sha256": inspected.sha256,
                "version": document.version,
                "replaces": str(replaces.pk) if replaces else None,
            },
        )
    except Exception:
        document.file.delete(save=False)  # nothing stored for a document that was not recorded
        raise
    return document


# --- The IP office: filing, milestones, duplicate claims ------------------------------------

S_ = CaseState
IP_RECORD_CLOSED = frozenset({S_.REJECTED, S_.WITHDRAWN, S_.CANCELLED})
# The filing is what a decision was taken on: from approval on it no longer changes.
FILING_FROZEN = IP_RECORD_CLOSED | {S_.APPROVED, S_.DISBURSED}
APPLICATION_NUMBER_PATTERNS: dict[str, tuple[str, Promise]] = {
    # NOIP: object type, year, serial (4 = trademark; other first digits are not checked).
    IpOffice.NOIP: (r"^\d-\d{4}-\d{5}$", _("A NOIP application number reads like 4-2025-20619.")),
    # WIPO: a Madrid international registration number, or a PCT application number.
    IpOffice.WIPO: (
        r"^(\d{6,8}|PCT/[A-Z]{2}\d{4}/\d{6})$",
        _("A WIPO number is a Madrid registration number (6 to 8 digits) or PCT/VN2025/050001."),
    ),
    IpOffice.COPYRIGHT_OFFICE: (
        r"^[0-9A-Za-z][0-9A-Za-z/.\-]{0,39}$",
        _("A Copyright Office number has letters, digits, / . and - only, at most 40."),
    ),
}
EVIDENCE_KIND: dict[str, str] = {
    MilestoneKind.FILED: DocumentKind.FILING_RECEIPT,
    MilestoneKind.FORMALITY_ACCEPTED: DocumentKind.VALID_APPLICATION_NOTICE,
    MilestoneKind.GRANTED: DocumentKind.PROTECTION_CERTIFICATE,
}
# The milestone that lets an approved case be paid, per payment trigger (a grant implies
# the application was accepted as valid).
FINAL_MILESTONES = frozenset({MilestoneKind.GRANTED, MilestoneKind.REFUSED, MilestoneKind.WITHDRAWN})
TRIGGER_MILESTONES: dict[str, frozenset[str]] = {
    PaymentTrigger.VALID_APPLICATION: frozenset({MilestoneKind.FORMALITY_ACCEPTED, MilestoneKind.GRANTED}),
    PaymentTrigger.CERTIFICATE_GRANTED: frozenset({MilestoneKind.GRANTED}),
}


def require_ip_record(*, case: Case, actor: User, filing: bool = False) -> None:
    """The enterprise's members, officers and partner systems with the milestones scope
    (an IP agent the enterprise authorised) record the filing and the office's milestones
    of a case they can see, for an IP support type: milestones until the case is refused,
    withdrawn or cancelled, the filing until the case is approved. Raises CaseNotFound,
    NotAllowed, InvalidState."""
    principal = principal_for(actor)
    if not is_visible(principal, case):
        raise CaseNotFound(_("No such case."))
    if not (
        principal.is_member_of(case.enterprise_id)
        or principal.has(Role.OFFICER)
        or principal.may(Scope.MILESTONES_WRITE)
    ):
        raise NotAllowed(
            _("Only the enterprise's members, officers and IP agents it authorised record the IP office's steps.")
        )
    if case.support_type not in IP_SUPPORT_TYPES:
        raise InvalidState(_("This type of support has no IP office filing."), code="not_an_ip_case")
    if case.state in IP_RECORD_CLOSED:
        raise InvalidState(_("The case is closed: its IP office steps can no longer change."))
    if filing and case.state in FILING_FROZEN:
        raise InvalidState(_("The case has been decided on this filing: it can no longer change."))


def _claim_key(kind: str, number: str) -> str:
    """Numbers compare without case or surrounding space (qtg-1 is QTG-1)."""
    return number.strip().upper()


def _check_claim(case: Case, kind: str, number: str, others: QuerySet[Case]) -> None:
    """Refuse a number another live case (past draft) claims, unless a manager allowed this
    case to. The number's lock row is taken first, so concurrent claims queue."""
    key = _claim_key(kind, number)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                ClaimedNumber.objects.get_or_create(kind=kind, number=key)
            break
        except IntegrityError:
            continue  # created by a concurrent claim: lock it below
    ClaimedNumber.objects.select_for_update().filter(kind=kind, number=key).first()
    live = others.exclude(pk=case.pk).exclude(state__in=IP_RECORD_CLOSED).exclude(state=CaseState.DRAFT)
    if not live.exists():
        return
    if ClaimAllowance.objects.filter(case=case, kind=kind, number__iexact=key).exists():
        return
    raise DuplicateClaim(
        _("Another case already claims %(kind)s %(number)s. A manager may allow this case to claim it too.")
        % {"kind": str(ClaimKind(kind).label).lower(), "number": number},
        kind=kind,
        number=number,
    )


@transaction.atomic
def filing_set(
    *,
    case: Case,
    actor: User,
    office: str,
    application_number: str,
    filed_on: dt.date,
    nice_classes: list[int] | None = None,
    expected_version: int | None = None,
) -> Filing:
    """Record (or correct) where and when the application was filed: a `filing` event.
    Raises NotAllowed, InvalidState, ValidationFailed, DuplicateClaim (409)."""
    require_ip_record(case=case, actor=actor, filing=True)
    number = application_number.strip()
    classes = nice_classes or []
    errors: list[FieldError] = []
    expected = IpOffice.COPYRIGHT_OFFICE if case.support_type == SupportType.COPYRIGHT else None
    if (expected and office != expected) or (not expected and office == IpOffice.COPYRIGHT_OFFICE):
        errors.append(FieldError("office", "wrong_office", _("This office does not register this type of right.")))
    pattern, hint = APPLICATION_NUMBER_PATTERNS[office]
    if not re.fullmatch(pattern, number):
        errors.append(FieldError("application_number", "invalid_format", hint))
    elif office == IpOffice.NOIP and case.support_type in MARK_TYPES and not number.startswith("4-"):
        errors.append(
            FieldError("application_number", "invalid_format", _("A NOIP trademark application number starts with 4-."))
        )
    if filed_on > timezone.localdate():
        errors.append(FieldError("filed_on", "in_future", _("The filing date cannot be in the future.")))
    if case.support_type in MARK_TYPES:
        if not classes or len(set(classes)) != len(classes) or any(not 1 <= c <= 45 for c in classes):
            errors.append(
                FieldError("nice_classes", "invalid", _("List the mark's Nice classes, each from 1 to 45, once."))
            )
    elif classes:
        errors.append(FieldError("nice_classes", "not_a_mark", _("Nice classes apply to marks only.")))
    if errors:
        raise ValidationFailed(errors)
    current = Filing.objects.filter(case=case).first()
    unchanged = current is not None and (current.office, _claim_key("", current.application_number)) == (
        office,
        _claim_key("", number),
    )
    if not unchanged:  # a case keeps a number it already holds, even once a second claim is allowed
        others = Case.objects.filter(filing__office=office, filing__application_number__iexact=number)
        _check_claim(case, ClaimKind.APPLICATION_NUMBER, number, others)
    guarded_update(case, changes={}, expected_version=expected_version)
    filing = current or Filing(case=case)
    before = None if current is None else {"office": current.office, "application_number": current.application_number}
    filing.office, filing.application_number, filing.filed_on = office, number, filed_on
    filing.nice_classes = sorted(classes)
    filing.save()
    _record_aside(
        case=case,
        action="filing",
        actor=actor,
        data={
            "office": office,
            "application_number": number,
            "filed_on": filed_on.isoformat(),
            "nice_classes": filing.nice_classes,
            "before": before,
        },
    )
    return filing


@transaction.atomic
def milestone_add(
    *,
    case: Case,
    actor: User,
    kind: str,
    occurred_on: dt.date,
    evidence: File[bytes],
    evidence_name: str,
    certificate_number: str = "",
    certificate_date: dt.date | None = None,
    note: str = "",
    expected_version: int | None = None,
) -> Milestone:
    """Record a step at the IP office with the document that proves it: the document is
    stored like any upload (a `document_upload` event) and the step is a `milestone`
    event. Raises NotAllowed, InvalidState, ValidationFailed, TooLarge, UnsupportedMedia,
    DuplicateClaim (409), Conflict `no_filing` (409)."""
    require_ip_record(case=case, actor=actor)
    filing = Filing.objects.filter(case=case).first()
    if filing is None:
        raise InvalidState(_("Record the filing before the office's steps."), code="no_filing")
    number = certificate_number.strip()
    today = timezone.localdate()
    errors: list[FieldError] = []
    if not filing.filed_on <= occurred_on <= today:
        errors.append(FieldError("occurred_on", "out_of_range", _("The date must be from the filing date to today.")))
    if kind == MilestoneKind.GRANTED:
        if not re.fullmatch(r"[1-9]\d{0,9}", number):
            errors.append(
                FieldError(
                    "certificate_number",
                    "invalid",
                    _("A granted right needs its certificate number: digits, without leading zeros."),
                )
            )
        if certificate_date is None or not filing.filed_on <= certificate_date <= today:
            errors.append(
                FieldError(
                    "certificate_date",
                    "invalid",
                    _("A granted right needs its certificate date, from filing to today."),
                )
            )
    elif number or certificate_date:
        errors.append(
            FieldError("certificate_number", "not_granted", _("Only a grant carries a certificate number and date."))
        )
    if errors:
        raise ValidationFailed(errors)
    if kind == MilestoneKind.GRANTED:
        others = Case.objects.filter(
            filing__office=filing.office,
            milestones__kind=MilestoneKind.GRANTED,
            milestones__certificate_number=number,
        )
        _check_claim(case, ClaimKind.CERTIFICATE_NUMBER, number, others)
    document_kind = EVIDENCE_KIND.get(kind, DocumentKind.OTHER)
    if kind == MilestoneKind.GRANTED and case.support_type == SupportType.COPYRIGHT:
        document_kind = DocumentKind.COPYRIGHT_CERTIFICATE
    document = _store_document(
        case=case,
        actor=actor,
        kind=document_kind,
        file=evidence,
        name=evidence_name,
        expected_version=expected_version,
    )
    try:
        return _record_milestone(
            case=case,
            actor=actor,
            kind=kind,
            occurred_on=occurred_on,
            number=number,
            certificate_date=certificate_date,
            note=note,
            document=document,
        )
    except Exception:
        document.file.delete(save=False)  # the evidence goes with the milestone it proves
        raise


def _record_milestone(
    *,
    case: Case,
    actor: User,
    kind: str,
    occurred_on: dt.date,
    number: str,
    certificate_date: dt.date | None,
    note: str,
    document: Document,
) -> Milestone:
    _lock_for_append(case)
    milestone = Milestone.objects.create(
        case=case,
        kind=kind,
        occurred_on=occurred_on,
        certificate_number=number,
        certificate_date=certificate_date,
        note=note.strip(),
        evidence=document,
        recorded_by=actor,
        recorded_at=timezone.now(),
    )
    _record_aside(
        case=case,
        action="milestone",
        actor=actor,
        data={
            "milestone": str(milestone.pk),
            "kind": kind,
            "occurred_on": occurred_on.isoformat(),
            "certificate_number": number or None,
            "certificate_date": certificate_date.isoformat() if certificate_date else None,
            "evidence": str(document.pk),
        },
    )
    return milestone


@transaction.atomic
def claim_allow(*, case: Case, actor: User, kind: str, number: str, reason: str) -> ClaimAllowance:
    """A manager lets this case claim a number another case claims too, with the reason:
    a `claim_allowed` event. Raises NotAllowed, ValidationFailed."""
    principal = principal_for(actor)
    if not is_visible(principal, case):
        raise CaseNotFound(_("No such case."))
    if not principal.has(Role.MANAGER):
        raise NotAllowed(_("Only managers can allow a second claim on a number."))
    if not reason.strip():
        raise ValidationFailed.single("reason", "required", _("Give the reason for allowing the second claim."))
    allowance, created = ClaimAllowance.objects.get_or_create(
        case=case,
        kind=kind,
        number=number.strip(),
        defaults={"reason": reason.strip(), "allowed_by": actor, "allowed_at": timezone.now()},
    )
    if created:
        guarded_update(case, changes={})
        _record_aside(
            case=case,
            action="claim_allowed",
            actor=actor,
            comment=reason.strip(),
            data={"kind": kind, "number": allowance.number},
        )
    return allowance


def _require_payment_milestone(case: Case) -> None:
    """An IP case is paid only once the office reached the rule's trigger, with evidence."""
    if case.support_type not in IP_SUPPORT_TYPES:
        return
    rule = case.decided_rule or {}
    trigger = rule.get("payment_trigger", PaymentTrigger.VALID_APPLICATION)
    needed = TRIGGER_MILESTONES[trigger]
    final = (
        Milestone.objects.filter(case=case, kind__in=FINAL_MILESTONES).order_by("-occurred_on", "-recorded_at").first()
    )
    if final is not None and final.kind != MilestoneKind.GRANTED:
        raise MilestoneMissing(
            _("The office's last word on the application is “%(milestone)s”: the case cannot be paid.")
            % {"milestone": MilestoneKind(final.kind).label},
            code="application_ended",
            milestone=final.kind,
        )
    if not Milestone.objects.filter(case=case, kind__in=needed).exists():
        wanted = (
            MilestoneKind.GRANTED if trigger == PaymentTrigger.CERTIFICATE_GRANTED else MilestoneKind.FORMALITY_ACCEPTED
        )
        raise MilestoneMissing(
            _("The rule pays once the office's step “%(milestone)s” is recorded with its evidence.")
            % {"milestone": MilestoneKind(wanted).label},
            missing=wanted,
            payment_trigger=trigger,
        )


# --- The working-day calendar ------------------------------------------------------------------

CALENDAR_MANAGERS_ONLY = _("Only managers can change the working-day calendar.")


@transaction.atomic
def calendar_override_set(*, actor: User, date: dt.date, working: bool, note: str) -> CalendarOverride:
    """Make `date` a working day or a day off for the department (managers). Takes effect
    for every deadline computed from now on; appointment dates already given stand.
    Raises NotAllowed, ValidationFailed."""
    require_manager(actor=actor, message=CALENDAR_MANAGERS_ONLY)
    if not FIRST_YEAR <= date.year <= LAST_YEAR:
        raise ValidationFailed.single(
            "date",
            "out_of_range",
            _("A date between %(earliest)s and %(latest)s.")
            % {"earliest": dt.date(FIRST_YEAR, 1, 1).isoformat(), "latest": dt.date(LAST_YEAR, 12, 31).isoformat()},
        )
    if not note.strip():
        raise ValidationFailed.single("note", "required", _("Say why (e.g. the decision that swaps the day)."))
    override, _created = CalendarOverride.objects.update_or_create(
        date=date, defaults={"working": working, "note": note.strip(), "created_by": actor}
    )
    logger.info("calendar: %s made %s by %s", date, "a working day" if working else "a day off", actor.pk)
    return override


@transaction.atomic
def calendar_override_delete(*, actor: User, override: CalendarOverride) -> None:
    """Give the date back to the national calendar (managers). Raises NotAllowed."""
    require_manager(actor=actor, message=CALENDAR_MANAGERS_ONLY)
    logger.info("calendar: override of %s removed by %s", override.date, actor.pk)
    override.delete()
