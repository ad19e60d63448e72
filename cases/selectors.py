"""Reads of programmes and cases, scoped to who asks.

List authorization is a filtered queryset, never a per-object check after the fact.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import BigIntegerField, F, Prefetch, Q, QuerySet, Sum, Value, When
from django.db.models import Case as SqlCase
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import principal_for
from cases import checklist, limits
from cases.calendar import WorkingCalendar
from cases.exceptions import CaseNotFound, DocumentNotFound
from cases.models import (
    BudgetEntry,
    CalendarOverride,
    Case,
    CaseEvent,
    CaseState,
    CostLine,
    Document,
    Filing,
    LedgerKind,
    Milestone,
    Programme,
    SupportRule,
    SupportRuleChange,
)
from common.exceptions import NotFound


def programme_list() -> QuerySet[Programme]:
    """Programmes are public to every signed-in user."""
    return Programme.objects.prefetch_related(
        Prefetch("rules", queryset=SupportRule.objects.order_by("support_type"))
    ).order_by("-year", "code")


def rule_get(*, programme: Programme, support_type: str) -> SupportRule:
    try:
        return SupportRule.objects.select_related("programme").get(programme=programme, support_type=support_type)
    except SupportRule.DoesNotExist:
        raise NotFound(_("The programme has no rule for this support type.")) from None


def programme_rule_changes(*, programme: Programme) -> QuerySet[SupportRuleChange]:
    """The programme's rule history, oldest first (public like the programme itself)."""
    return SupportRuleChange.objects.filter(programme=programme).select_related("actor").order_by("at")


def programme_get(*, code: str) -> Programme:
    try:
        return programme_list().get(code=code)
    except Programme.DoesNotExist:
        raise NotFound(_("No such programme.")) from None


def case_list_visible_to(*, user: User) -> QuerySet[Case]:
    """Members see their enterprises' cases, drafts included; officers, managers and
    admins see every case that has left draft. Deleted drafts are never listed.

    Rows carry `enterprise_name`, `programme_code` and `assigned_officer_username` as
    annotations: a page needs those three names, not three related objects per row.
    """
    principal = principal_for(user)
    queryset = Case.objects.filter(deleted_at__isnull=True).annotate(
        enterprise_name=F("enterprise__name"),
        programme_code=F("programme__code"),
        assigned_officer_username=F("assigned_officer__username"),
    )
    mine = Q(enterprise_id__in=principal.enterprise_ids)
    if principal.sees_all:
        return queryset.filter(mine | ~Q(state=CaseState.DRAFT))
    if principal.partner is not None:
        # A partner system: past draft, and only the enterprises that authorised it
        # unless it serves them all (the one-stop portal).
        reach = principal.partner.enterprise_ids
        past_draft = queryset.exclude(state=CaseState.DRAFT)
        return past_draft if reach is None else past_draft.filter(enterprise_id__in=reach)
    return queryset.filter(mine)


def case_get_visible(*, user: User, case_id: uuid.UUID | str) -> Case:
    """One visible case, with its programme loaded (the services read its rules and period)."""
    try:
        return case_list_visible_to(user=user).select_related("programme").get(pk=case_id)
    except (Case.DoesNotExist, ValueError, DjangoValidationError):
        raise CaseNotFound(_("No such case.")) from None


CLOCK_RUNNING = frozenset({CaseState.IN_REVIEW, CaseState.RECOMMENDED})


def is_overdue(case: Case, today: dt.date) -> bool:
    """Open past its appointment date while the clock runs (it stands still during a
    supplement, and stops at the decision)."""
    return case.state in CLOCK_RUNNING and case.due_on is not None and case.due_on < today


@dataclass(frozen=True)
class Clock:
    """The statutory clock as the case shows it."""

    working_days_used: int
    working_days_left: int


def case_clock(*, case: Case, today: dt.date | None = None) -> Clock | None:
    """Working days used since receipt (less those the clock stood still) and left until
    the appointment date; None before receipt. One query (the calendar's overrides)."""
    if case.due_on is None or case.received_at is None:
        return None
    today = today or timezone.localdate()
    calendar = WorkingCalendar()
    end = case.clock_stopped_on or (timezone.localdate(case.decided_at) if case.decided_at else today)
    used = calendar.count(timezone.localdate(case.received_at), end) - case.paused_working_days
    left = calendar.count(end, case.due_on) if end < case.due_on else -calendar.count(case.due_on, end)
    return Clock(working_days_used=max(used, 0), working_days_left=left)


@dataclass(frozen=True)
class CaseDetail:
    """A case with what its detail page shows besides its own columns."""

    case: Case
    cost_lines: list[CostLine]
    supportable: limits.Supportable | None  # None only if the rule were gone
    clock: Clock | None = None

    @property
    def eligible_cost(self) -> int:
        return sum(line.amount for line in self.cost_lines)


def case_detail_visible(*, user: User, case_id: uuid.UUID | str) -> CaseDetail:
    """One visible case with its cost lines and supportable amount.

    A decided case shows the breakdown its decision recorded; any other is measured
    against its rule as it is now (three more queries: cost lines, the rule, the
    enterprise's other cases under the rule).
    """
    case = case_get_visible(user=user, case_id=case_id)
    cost_lines = list(case_cost_lines(case=case))
    clock = case_clock(case=case)
    if case.decided_rule and "supportable" in case.decided_rule:
        recorded = limits.Supportable.from_data(case.decided_rule["supportable"])
        return CaseDetail(case=case, cost_lines=cost_lines, supportable=recorded, clock=clock)
    rule = limits.rule_for(programme_id=case.programme_id, support_type=case.support_type)
    if rule is None:
        return CaseDetail(case=case, cost_lines=cost_lines, supportable=None, clock=clock)
    eligible_cost = sum(line.amount for line in cost_lines)
    support = limits.supportable(case=case, rule=rule, eligible_cost=eligible_cost)
    return CaseDetail(case=case, cost_lines=cost_lines, supportable=support, clock=clock)


def calendar_overrides() -> QuerySet[CalendarOverride]:
    return CalendarOverride.objects.order_by("date")


def calendar_override_get(*, date: str) -> CalendarOverride:
    try:
        return CalendarOverride.objects.get(date=date)
    except (CalendarOverride.DoesNotExist, ValueError, DjangoValidationError):
        raise NotFound(_("The calendar has no override for this date.")) from None


def case_cost_lines(*, case: Case) -> QuerySet[CostLine]:
    return CostLine.objects.filter(case=case).order_by("position")


def _rule_of(case: Case) -> SupportRule:
    return rule_get(programme=case.programme, support_type=case.support_type)


def case_supportable(*, case: Case, rule: SupportRule | None = None) -> limits.Supportable:
    """The case's largest supportable amount under its rule as it is now, limit by limit."""
    eligible_cost = int(CostLine.objects.filter(case=case).aggregate(total=Sum("amount"))["total"] or 0)
    return limits.supportable(case=case, rule=rule or _rule_of(case), eligible_cost=eligible_cost)


def case_eligibility(*, case: Case) -> limits.Eligibility:
    """Every condition of the case's rule, checked against its enterprise and other cases."""
    return limits.eligibility(case=case, rule=_rule_of(case), cost_lines=CostLine.objects.filter(case=case).count())


def case_documents(*, case: Case) -> QuerySet[Document]:
    """Every version of every document of the case, oldest first, with who uploaded it and
    whether a newer version replaces it (`replaced_by_id`)."""
    return (
        Document.objects.filter(case=case)
        .select_related("uploaded_by")
        .annotate(replaced_by_id=F("replaced_by__id"))
        .order_by("uploaded_at", "id")
    )


def document_get_visible(*, user: User, case_id: uuid.UUID | str, document_id: uuid.UUID | str) -> Document:
    """One document of a case the user may see; another case's or a made-up id is 404."""
    case = case_get_visible(user=user, case_id=case_id)
    try:
        return case_documents(case=case).get(pk=document_id)
    except (Document.DoesNotExist, ValueError, DjangoValidationError):
        raise DocumentNotFound(_("No such document.")) from None


def case_checklist(*, case: Case) -> checklist.Checklist:
    """The documents checklist: the rule's lists (the decided rule's once approved), the
    kinds the latest supplement request named, and the current documents."""
    if case.decided_rule:
        rule = case.decided_rule
    else:
        current = limits.rule_for(programme_id=case.programme_id, support_type=case.support_type)
        rule = limits.rule_values(current) if current else {}
    request = (
        CaseEvent.objects.filter(case=case, action="request-supplement").order_by("-seq").values("at", "data").first()
    )
    supplement = None
    if request and request["data"].get("document_kinds"):
        supplement = checklist.SupplementRequest(at=request["at"], kinds=request["data"]["document_kinds"])
    documents = Document.objects.filter(case=case, replaced_by__isnull=True)
    return checklist.build(state=case.state, rule=rule, documents=documents, supplement=supplement)


def case_filing(*, case: Case) -> Filing:
    try:
        return Filing.objects.get(case=case)
    except Filing.DoesNotExist:
        raise NotFound(_("No filing has been recorded for this case.")) from None


def case_milestones(*, case: Case) -> QuerySet[Milestone]:
    return (
        Milestone.objects.filter(case=case)
        .select_related("recorded_by", "evidence")
        .order_by("occurred_on", "recorded_at")
    )


def case_events(*, case: Case) -> QuerySet[CaseEvent]:
    return CaseEvent.objects.filter(case=case).select_related("actor").order_by("seq")


@dataclass(frozen=True)
class BudgetLine:
    support_type: str
    committed: int
    disbursed: int


@dataclass(frozen=True)
class Budget:
    """A programme's money from its ledger: held by approvals, paid, and what is left."""

    programme: Programme
    committed: int
    disbursed: int
    by_support_type: list[BudgetLine]

    @property
    def total(self) -> int:
        return self.programme.budget_total

    @property
    def available(self) -> int:
        return self.programme.budget_total - self.committed - self.disbursed


def programme_budget(*, programme: Programme) -> Budget:
    """Sum the programme's ledger in one query, per support type."""
    signed = SqlCase(
        When(kind=LedgerKind.COMMIT, then=F("amount")),
        When(kind=LedgerKind.RELEASE, then=-F("amount")),
        When(kind=LedgerKind.SPEND, then=-F("amount")),
        default=Value(0),
        output_field=BigIntegerField(),
    )
    rows = (
        BudgetEntry.objects.filter(programme=programme)
        .values("support_type")
        .annotate(held=Sum(signed), paid=Sum("amount", filter=Q(kind=LedgerKind.SPEND)))
        .order_by("support_type")
    )
    lines = [BudgetLine(r["support_type"], int(r["held"] or 0), int(r["paid"] or 0)) for r in rows]
    return Budget(
        programme=programme,
        committed=sum(line.committed for line in lines),
        disbursed=sum(line.disbursed for line in lines),
        by_support_type=lines,
    )
