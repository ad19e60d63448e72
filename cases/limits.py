"""What a case may receive and whether it may apply: reads over its rule, its enterprise
and the enterprise's other cases under the same rule. No writes.

`supportable` explains the largest amount the rule allows, limit by limit, so an officer
never computes it by hand and a refusal can say which limit bites. `eligibility` lists
each condition of the rule with pass/fail and a reason in the request's language.
Services call both inside their transaction, after taking the lock that serialises the
writes they guard (the programme row for approvals, the enterprise row for submissions).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from applicants.models import LegalForm, SizeClass
from applicants.startup import STARTUP_MAX_YEARS, young_enough
from cases.models import Case, CaseState, SupportRule
from common.formats import vnd

S = CaseState
# A case takes one of the enterprise's items from submission until it is refused,
# withdrawn or cancelled; money counts against the yearly cap once approved.
ITEM_STATES = frozenset({S.SUBMITTED, S.IN_REVIEW, S.AWAITING_SUPPLEMENT, S.RECOMMENDED, S.APPROVED, S.DISBURSED})
HELD_STATES = frozenset({S.APPROVED, S.DISBURSED})


def rule_for(*, programme_id: uuid.UUID | str, support_type: str) -> SupportRule | None:
    """The programme's rule for the support type, if it has one."""
    return SupportRule.objects.filter(programme_id=programme_id, support_type=support_type).first()


def rule_values(rule: SupportRule) -> dict[str, Any]:
    """The rule as plain data: what a decision records and the API shows."""
    return {
        "support_type": rule.support_type,
        # as stored, two places; None only on a rule being created
        "percent": None if rule.percent is None else str(Decimal(rule.percent).quantize(Decimal("0.01"))),
        "cap_amount": rule.cap_amount,
        "enterprise_year_cap": rule.enterprise_year_cap,
        "max_items_per_enterprise": rule.max_items_per_enterprise,
        "legal_forms": list(rule.legal_forms),
        "size_classes": list(rule.size_classes),
        "province_codes": list(rule.province_codes),
        "startup_required": rule.startup_required,
        "payment_trigger": rule.payment_trigger,
        "legal_basis": rule.legal_basis,
        "documents_at_submission": list(rule.documents_at_submission),
        "documents_before_payment": list(rule.documents_before_payment),
        "processing_days": rule.processing_days,
    }


@dataclass(frozen=True)
class EnterpriseUsage:
    """The enterprise's other cases under the same rule (programme and support type)."""

    items: int  # live cases: submitted and not refused, withdrawn or cancelled
    approved_items: int  # of which approved or paid
    held: int  # VND approved or paid to them


def enterprise_usage(case: Case) -> EnterpriseUsage:
    """One aggregate query; the case itself is not counted."""
    row = (
        Case.objects.filter(
            enterprise_id=case.enterprise_id,
            programme_id=case.programme_id,
            support_type=case.support_type,
            deleted_at__isnull=True,
        )
        .exclude(pk=case.pk)
        .aggregate(
            items=Count("id", filter=Q(state__in=ITEM_STATES)),
            approved_items=Count("id", filter=Q(state__in=HELD_STATES)),
            held=Sum(Coalesce("disbursed_amount", "approved_amount"), filter=Q(state__in=HELD_STATES)),
        )
    )
    return EnterpriseUsage(
        items=int(row["items"] or 0), approved_items=int(row["approved_items"] or 0), held=int(row["held"] or 0)
    )


# Why each limit bites, as a fragment of "...this case can receive: <reason>."; the
# templates are formatted when read, so a reason is in the language of whoever reads it,
# and a recorded breakdown (`Case.decided_rule`) can be explained again later.
REASONS: dict[str, Promise] = {
    "percent_of_cost": _("%(percent)s%% of the eligible cost of %(cost)s VND is %(amount)s VND"),
    "item_cap": _("the rule pays at most %(amount)s VND per item"),
    "requested_amount": _("the enterprise asked for %(amount)s VND"),
    "enterprise_year_cap": _("%(amount)s VND is left of the enterprise's yearly cap of %(cap)s VND"),
    "item_count": _("the enterprise already has %(used)s approved items, the most the rule allows (%(max)s)"),
}
LIMIT_CODES: tuple[str, ...] = tuple(REASONS)


@dataclass(frozen=True)
class Limit:
    code: str
    amount: int
    params: dict[str, Any]

    @property
    def reason(self) -> str:
        money = {key: vnd(value) for key, value in self.params.items() if key in ("cost", "cap")}
        return str(REASONS[self.code] % {**self.params, **money, "amount": vnd(self.amount)})


@dataclass(frozen=True)
class Supportable:
    """The largest amount the case can receive, and every limit that went into it."""

    eligible_cost: int
    percent: Decimal
    limits: list[Limit]

    @property
    def binding(self) -> Limit:
        """The limit that bites: the smallest (the first listed among equals)."""
        return min(self.limits, key=lambda limit: limit.amount)

    @property
    def amount(self) -> int:
        return self.binding.amount

    def as_data(self) -> dict[str, Any]:
        return {
            "max_supportable_amount": self.amount,
            "eligible_cost": self.eligible_cost,
            "percent": str(self.percent),
            "binding_limit": self.binding.code,
            "limits": [{"code": lim.code, "amount": lim.amount, "params": lim.params} for lim in self.limits],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Supportable:
        """The breakdown a decision recorded (`as_data`), to show it as it was."""
        return cls(
            eligible_cost=int(data["eligible_cost"]),
            percent=Decimal(data["percent"]),
            limits=[Limit(item["code"], int(item["amount"]), dict(item.get("params", {}))) for item in data["limits"]],
        )


def percent_of(amount: int, percent: Decimal) -> int:
    """Whole VND, rounded down: support never exceeds the percentage."""
    return int((Decimal(amount) * percent / 100).to_integral_value(rounding=ROUND_FLOOR))


def supportable(
    *, case: Case, rule: SupportRule, eligible_cost: int, usage: EnterpriseUsage | None = None
) -> Supportable:
    """min(percent x eligible cost, cap per item, requested amount, what is left of the
    enterprise's yearly cap), and 0 when the enterprise's other approved items already
    reach the rule's maximum. (Submission counts every live application against the
    maximum; an amount is measured against the items actually granted, which matters
    only when a manager lowers the maximum while applications are in review.)"""
    usage = usage if usage is not None else enterprise_usage(case)
    limits = [
        Limit(
            "percent_of_cost",
            percent_of(eligible_cost, rule.percent),
            {"percent": _percent_text(rule.percent), "cost": eligible_cost},
        ),
        Limit("item_cap", rule.cap_amount, {}),
        Limit("requested_amount", case.requested_amount, {}),
    ]
    if rule.enterprise_year_cap is not None:
        left = max(rule.enterprise_year_cap - usage.held, 0)
        limits.append(Limit("enterprise_year_cap", left, {"cap": rule.enterprise_year_cap}))
    if rule.max_items_per_enterprise is not None and usage.approved_items >= rule.max_items_per_enterprise:
        limits.append(Limit("item_count", 0, {"used": usage.approved_items, "max": rule.max_items_per_enterprise}))
    return Supportable(eligible_cost=eligible_cost, percent=rule.percent, limits=limits)


def _percent_text(percent: Decimal) -> str:
    return f"{percent.normalize():f}"


# --- Eligibility --------------------------------------------------------------------------


# The eligibility checks, in the order `eligibility` lists them.
CHECK_CODES: tuple[str, ...] = (
    "programme_open",
    "legal_form",
    "size_class",
    "province",
    "startup_age",
    "startup_verified",
    "item_count",
    "enterprise_year_cap",
    "cost_lines",
)


@dataclass(frozen=True)
class Check:
    code: str
    passed: bool
    reason: str | Promise


@dataclass(frozen=True)
class Eligibility:
    checks: list[Check]

    @property
    def eligible(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    def as_data(self) -> list[dict[str, Any]]:
        return [{"code": c.code, "passed": c.passed, "reason": c.reason} for c in self.checks]


def _labels(values: list[str], choices: type[LegalForm] | type[SizeClass]) -> str:
    return ", ".join(str(choices(value).label) for value in values)


def eligibility(*, case: Case, rule: SupportRule, cost_lines: int, usage: EnterpriseUsage | None = None) -> Eligibility:
    """Each condition for the case to be submitted, as of its submission (or today for a draft)."""
    enterprise = case.enterprise
    programme = case.programme
    usage = usage if usage is not None else enterprise_usage(case)
    on: dt.date = timezone.localdate(case.submitted_at) if case.submitted_at else timezone.localdate()
    checks: list[Check] = []

    is_open = programme.opens_on <= on <= programme.closes_on
    period = {"opens": programme.opens_on.isoformat(), "closes": programme.closes_on.isoformat()}
    checks.append(
        Check(
            "programme_open",
            is_open,
            _("The programme accepts applications from %(opens)s to %(closes)s.") % period
            if is_open
            else _("The programme accepts applications only from %(opens)s to %(closes)s.") % period,
        )
    )

    form = LegalForm(enterprise.legal_form).label
    if not rule.legal_forms:
        checks.append(Check("legal_form", True, _("The rule accepts every legal form.")))
    else:
        ok = enterprise.legal_form in rule.legal_forms
        allowed = _labels(rule.legal_forms, LegalForm)
        checks.append(
            Check(
                "legal_form",
                ok,
                (
                    _("%(form)s is among the legal forms the rule supports: %(allowed)s.")
                    if ok
                    else _(
                        "The rule supports only these legal forms: %(allowed)s; the applicant's legal form is %(form)s."
                    )
                )
                % {"form": form, "allowed": allowed},
            )
        )

    size = SizeClass(enterprise.size_class).label
    if not rule.size_classes:
        ok = True
        reason = _("Size class under Decree 80/2021: %(size)s; the rule accepts every size.") % {"size": size}
    else:
        ok = enterprise.size_class in rule.size_classes
        params = {"size": size, "allowed": _labels(rule.size_classes, SizeClass)}
        reason = (
            _("Size class under Decree 80/2021: %(size)s, which the rule supports (%(allowed)s).")
            if ok
            else _("Size class under Decree 80/2021: %(size)s; the rule supports only: %(allowed)s.")
        ) % params
    checks.append(Check("size_class", ok, reason))

    if not rule.province_codes:
        checks.append(Check("province", True, _("The rule accepts enterprises from every province.")))
    else:
        ok = enterprise.province_code in rule.province_codes
        checks.append(
            Check(
                "province",
                ok,
                (
                    _("The enterprise is registered in %(province)s, which the rule covers.")
                    if ok
                    else _(
                        "The rule covers only enterprises registered in the provinces with codes %(codes)s;"
                        " the enterprise is registered in %(province)s."
                    )
                )
                % {"province": enterprise.province_name, "codes": ", ".join(rule.province_codes)},
            )
        )

    if not rule.startup_required:
        not_needed = _("The rule does not require an innovative startup.")
        checks.append(Check("startup_age", True, not_needed))
        checks.append(Check("startup_verified", True, not_needed))
    else:
        young = enterprise.is_startup and young_enough(enterprise.founded_on, on=on)
        age_params = {"years": STARTUP_MAX_YEARS, "founded": enterprise.founded_on}
        if not enterprise.is_startup:
            age_reason = _("The rule is for innovative startups; the enterprise has not declared itself one.")
        elif enterprise.founded_on is None:
            age_reason = _(
                "The founding date is not on file; an innovative startup must be at most %(years)s years old."
            )
        elif young:
            age_reason = _("Founded on %(founded)s: within %(years)s years, as an innovative startup must be.")
        else:
            age_reason = _("Founded on %(founded)s: an innovative startup must be at most %(years)s years old.")
        checks.append(Check("startup_age", young, age_reason % age_params))
        verified = enterprise.startup_verified_at is not None
        checks.append(
            Check(
                "startup_verified",
                verified,
                _("An officer has verified the innovative-startup status.")
                if verified
                else _("An officer has not yet verified the innovative-startup status."),
            )
        )

    if rule.max_items_per_enterprise is None:
        checks.append(Check("item_count", True, _("The rule does not limit the number of items per enterprise.")))
    else:
        ok = usage.items < rule.max_items_per_enterprise
        params = {"used": usage.items, "max": rule.max_items_per_enterprise}
        checks.append(
            Check(
                "item_count",
                ok,
                (
                    _("Other live applications of the enterprise under this rule: %(used)s; it may have %(max)s.")
                    if ok
                    else _(
                        "The enterprise already has %(used)s live applications under this rule,"
                        " the most it may have (%(max)s)."
                    )
                )
                % params,
            )
        )

    if rule.enterprise_year_cap is None:
        checks.append(Check("enterprise_year_cap", True, _("The rule sets no yearly cap per enterprise.")))
    else:
        left = rule.enterprise_year_cap - usage.held
        params = {"left": vnd(max(left, 0)), "cap": vnd(rule.enterprise_year_cap)}
        checks.append(
            Check(
                "enterprise_year_cap",
                left > 0,
                (
                    _("%(left)s VND is left of the enterprise's yearly cap of %(cap)s VND.")
                    if left > 0
                    else _("The enterprise has used all of its yearly cap of %(cap)s VND under this rule.")
                )
                % params,
            )
        )

    checks.append(
        Check(
            "cost_lines",
            cost_lines > 0,
            _("Invoiced cost lines declared: %(count)s.") % {"count": cost_lines}
            if cost_lines > 0
            else _("Declare at least one invoiced cost: support is a share of eligible costs."),
        )
    )
    return Eligibility(checks)
