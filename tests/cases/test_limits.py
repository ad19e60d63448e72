"""cases.limits and applicants.startup without HTTP: the arithmetic of the supportable
amount, the choice of the binding limit, each eligibility condition at its edges, and the
innovative-startup age around 29 February.

Models are built in memory (no rows) and the enterprise's usage is given, so these tests
need no database except where they say so.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from django.utils.translation import override

from applicants.models import Enterprise
from applicants.startup import STARTUP_MAX_YEARS, founded_limit, young_enough
from cases import limits
from cases.limits import EnterpriseUsage, percent_of
from cases.models import Case, Programme, SupportRule

NO_USAGE = EnterpriseUsage(items=0, approved_items=0, held=0)


def _rule(**values: Any) -> SupportRule:
    defaults: dict[str, Any] = {
        "support_type": "trademark",
        "percent": Decimal("50.00"),
        "cap_amount": 30_000_000,
        "enterprise_year_cap": None,
        "max_items_per_enterprise": None,
        "legal_forms": [],
        "size_classes": [],
        "province_codes": [],
        "startup_required": False,
    }
    return SupportRule(**{**defaults, **values})


def _case(requested: int = 20_000_000, **values: Any) -> Case:
    today = timezone.localdate()
    programme = values.pop(
        "programme",
        Programme(
            code="shtt-unit",
            year=today.year,
            opens_on=today - dt.timedelta(days=30),
            closes_on=today + dt.timedelta(days=30),
            budget_total=1_000_000_000,
        ),
    )
    enterprise = values.pop(
        "enterprise",
        Enterprise(
            name="Công ty TNHH Thử nghiệm",
            legal_form="enterprise",
            size_class="micro",
            province_code="68",
            province_name="Lâm Đồng",
            founded_on=today - dt.timedelta(days=365),
        ),
    )
    return Case(
        programme=programme, enterprise=enterprise, support_type="trademark", requested_amount=requested, **values
    )


def _en(limit: limits.Limit) -> str:
    """The limit's reason in English (the project's default language is Vietnamese)."""
    with override("en"):
        return str(limit.reason)


def _support(cost: int, requested: int = 20_000_000, usage: EnterpriseUsage = NO_USAGE, **rule: Any):  # type: ignore[no-untyped-def]
    with override("en"):  # reasons are translated when the limit is made; the default language is Vietnamese
        return limits.supportable(case=_case(requested), rule=_rule(**rule), eligible_cost=cost, usage=usage)


# --- percent_of ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [
        (40_000_000, Decimal("50"), 20_000_000),
        (10_000_001, Decimal("33.33"), 3_333_000),  # 3,333,000.3,333 VND
        (10_000_000, Decimal("33.33"), 3_333_000),  # exact
        (199, Decimal("50"), 99),  # 99.5 rounds down, never up
        (3, Decimal("33.33"), 0),  # 0.9999
        (1, Decimal("99.99"), 0),
        (9_999, Decimal("0.01"), 0),
        (10_000, Decimal("0.01"), 1),
        (100_000_000_000, Decimal("100"), 100_000_000_000),
        (99_999_999_999, Decimal("99.99"), 99_989_999_999),  # 99,989,999,999.0001
        (0, Decimal("50"), 0),
    ],
)
def test_percent_of_rounds_down_to_whole_vnd(amount, percent, expected):
    result = percent_of(amount, percent)

    assert result == expected
    assert isinstance(result, int)


def test_percent_of_never_exceeds_the_exact_share():
    for amount in range(1, 2_000, 7):
        for percent in (Decimal("33.33"), Decimal("66.67"), Decimal("12.5"), Decimal("0.01")):
            result = percent_of(amount, percent)
            exact = Decimal(amount) * percent / 100
            assert result <= exact < result + 1, (amount, percent)


# --- supportable ----------------------------------------------------------------------------


def test_supportable_lists_percent_cap_and_requested_in_that_order():
    support = _support(40_000_000)

    assert [(limit.code, limit.amount) for limit in support.limits] == [
        ("percent_of_cost", 20_000_000),
        ("item_cap", 30_000_000),
        ("requested_amount", 20_000_000),
    ]
    assert (support.eligible_cost, support.percent) == (40_000_000, Decimal("50.00"))


@pytest.mark.parametrize(
    ("cost", "requested", "rule", "usage", "amount", "binding"),
    [
        (10_000_000, 20_000_000, {}, NO_USAGE, 5_000_000, "percent_of_cost"),
        (100_000_000, 80_000_000, {}, NO_USAGE, 30_000_000, "item_cap"),
        (40_000_000, 3_000_000, {}, NO_USAGE, 3_000_000, "requested_amount"),
        (
            40_000_000,
            20_000_000,
            {"enterprise_year_cap": 25_000_000},
            EnterpriseUsage(items=1, approved_items=1, held=10_000_000),
            15_000_000,
            "enterprise_year_cap",
        ),
        (
            40_000_000,
            20_000_000,
            {"max_items_per_enterprise": 1},
            EnterpriseUsage(items=1, approved_items=1, held=10_000_000),
            0,
            "item_count",
        ),
    ],
    ids=["percent", "item-cap", "requested", "year-cap", "item-count"],
)
def test_the_smallest_limit_is_the_amount(cost, requested, rule, usage, amount, binding):
    support = _support(cost, requested, usage, **rule)

    assert (support.amount, support.binding.code) == (amount, binding)


@pytest.mark.parametrize(
    ("cost", "requested", "rule", "binding"),
    [
        (40_000_000, 20_000_000, {}, "percent_of_cost"),  # percent = requested
        (60_000_000, 30_000_000, {}, "percent_of_cost"),  # percent = cap = requested
        (100_000_000, 30_000_000, {}, "item_cap"),  # cap = requested
        (100_000_000, 40_000_000, {"enterprise_year_cap": 30_000_000}, "item_cap"),  # cap = year cap
        (40_000_000, 15_000_000, {"enterprise_year_cap": 15_000_000}, "requested_amount"),  # requested = year cap
    ],
    ids=["percent-requested", "three-way", "cap-requested", "cap-year-cap", "requested-year-cap"],
)
def test_among_equal_limits_the_first_listed_binds(cost, requested, rule, binding):
    support = _support(cost, requested, **rule)

    assert support.binding.code == binding
    assert support.amount == min(limit.amount for limit in support.limits)


def test_with_no_cost_the_percent_limit_binds_before_an_item_count_of_zero():
    support = _support(0, max_items_per_enterprise=1, usage=EnterpriseUsage(items=1, approved_items=1, held=0))

    # percent of no cost is also 0 and listed first
    assert (support.amount, support.binding.code) == (0, "percent_of_cost")
    assert [limit.code for limit in support.limits][-1] == "item_count"


def test_the_yearly_cap_counts_what_is_held_and_never_goes_below_zero():
    held = EnterpriseUsage(items=3, approved_items=3, held=40_000_000)

    support = _support(40_000_000, usage=held, enterprise_year_cap=25_000_000)

    assert (support.amount, support.binding.code) == (0, "enterprise_year_cap")
    assert support.limits[-1].amount == 0
    assert _en(support.limits[-1]) == "0 VND is left of the enterprise's yearly cap of 25,000,000 VND"


def test_no_yearly_cap_and_no_item_maximum_add_no_limits():
    support = _support(40_000_000, usage=EnterpriseUsage(items=9, approved_items=9, held=90_000_000))

    assert [limit.code for limit in support.limits] == ["percent_of_cost", "item_cap", "requested_amount"]


@pytest.mark.parametrize(
    ("usage", "limited"),
    [
        (EnterpriseUsage(items=0, approved_items=0, held=0), False),
        (EnterpriseUsage(items=1, approved_items=0, held=0), False),  # in review, not granted
        (EnterpriseUsage(items=2, approved_items=1, held=10_000_000), False),
        (EnterpriseUsage(items=2, approved_items=2, held=20_000_000), True),
        (EnterpriseUsage(items=5, approved_items=3, held=30_000_000), True),
    ],
)
def test_the_item_count_limit_counts_approved_items_against_the_maximum(usage, limited):
    support = _support(40_000_000, usage=usage, max_items_per_enterprise=2)

    assert ("item_count" in [limit.code for limit in support.limits]) is limited
    assert support.amount == (0 if limited else 20_000_000)


def test_supportable_as_data_is_what_a_decision_records():
    support = _support(10_000_001, requested=50_000_000, percent=Decimal("33.33"), enterprise_year_cap=45_000_000)

    data = support.as_data()

    assert {key: value for key, value in data.items() if key != "limits"} == {
        "max_supportable_amount": 3_333_000,
        "eligible_cost": 10_000_001,
        "percent": "33.33",
        "binding_limit": "percent_of_cost",
    }
    assert [(limit["code"], limit["amount"]) for limit in data["limits"]] == [
        ("percent_of_cost", 3_333_000),
        ("item_cap", 30_000_000),
        ("requested_amount", 50_000_000),
        ("enterprise_year_cap", 45_000_000),
    ]


@pytest.mark.parametrize(
    ("percent", "text"), [(Decimal("50.00"), "50%"), (Decimal("100.00"), "100%"), (Decimal("12.50"), "12.5%")]
)
def test_the_percent_reads_without_trailing_zeros(percent, text):
    support = _support(40_000_000, percent=percent)

    assert _en(support.limits[0]).startswith(f"{text} of the eligible cost of 40,000,000 VND")


# --- eligibility ----------------------------------------------------------------------------


def _checks(case: Case | None = None, rule: SupportRule | None = None, cost_lines: int = 1, usage=NO_USAGE):  # type: ignore[no-untyped-def]
    with override("en"):
        result = limits.eligibility(case=case or _case(), rule=rule or _rule(), cost_lines=cost_lines, usage=usage)
        return result, {check.code: (check.passed, str(check.reason)) for check in result.checks}


def test_a_case_meeting_every_condition_is_eligible():
    result, checks = _checks()

    assert result.eligible is True
    assert result.failed == []
    assert list(checks) == [
        "programme_open",
        "legal_form",
        "size_class",
        "province",
        "startup_age",
        "startup_verified",
        "item_count",
        "enterprise_year_cap",
        "cost_lines",
    ]
    assert all(passed for passed, _reason in checks.values())


@pytest.mark.parametrize(
    ("opens", "closes", "passed"),
    [(0, 10, True), (-10, 0, True), (-10, -1, False), (1, 10, False), (-1, 1, True)],
    ids=["opens-today", "closes-today", "closed-yesterday", "opens-tomorrow", "open"],
)
def test_the_programme_is_open_on_both_ends_of_its_period(opens, closes, passed):
    today = timezone.localdate()
    programme = Programme(
        code="p",
        year=today.year,
        opens_on=today + dt.timedelta(days=opens),
        closes_on=today + dt.timedelta(days=closes),
    )

    result, checks = _checks(_case(programme=programme))

    assert checks["programme_open"][0] is passed
    assert result.eligible is passed


def test_a_submitted_case_is_judged_on_its_submission_date():
    today = timezone.localdate()
    programme = Programme(
        code="p", year=today.year, opens_on=today - dt.timedelta(days=60), closes_on=today - dt.timedelta(days=10)
    )
    case = _case(programme=programme, submitted_at=timezone.now() - dt.timedelta(days=20))

    _result, checks = _checks(case)

    assert checks["programme_open"][0] is True


@pytest.mark.parametrize(
    ("field", "rule_values", "enterprise_values", "passed"),
    [
        ("legal_form", {"legal_forms": ["cooperative"]}, {"legal_form": "enterprise"}, False),
        ("legal_form", {"legal_forms": ["cooperative"]}, {"legal_form": "cooperative"}, True),
        ("legal_form", {"legal_forms": ["household_business"]}, {"legal_form": "cooperative"}, False),
        ("size_class", {"size_classes": ["micro"]}, {"size_class": "small"}, False),
        ("size_class", {"size_classes": ["micro", "small", "medium"]}, {"size_class": "large"}, False),
        ("size_class", {"size_classes": ["medium"]}, {"size_class": "medium"}, True),
        ("province", {"province_codes": ["01"]}, {"province_code": "68"}, False),
        ("province", {"province_codes": ["01", "68"]}, {"province_code": "68"}, True),
    ],
)
def test_listed_conditions_pass_only_for_listed_values(field, rule_values, enterprise_values, passed):
    case = _case()
    for name, value in enterprise_values.items():
        setattr(case.enterprise, name, value)

    result, checks = _checks(case, _rule(**rule_values))

    assert checks[field][0] is passed
    assert [check.code for check in result.failed] == ([] if passed else [field])


def test_reasons_name_the_allowed_and_actual_values():
    case = _case()
    case.enterprise.size_class = "large"

    _result, checks = _checks(case, _rule(legal_forms=["cooperative", "household_business"], size_classes=["micro"]))

    assert checks["legal_form"] == (
        False,
        "The rule supports only these legal forms: Cooperative, Household business; "
        "the applicant's legal form is Enterprise.",
    )
    assert checks["size_class"] == (
        False,
        "Size class under Decree 80/2021: Large; the rule supports only: Micro.",
    )


def _startup_case(*, is_startup: bool, founded_on: dt.date | None, verified: bool) -> Case:
    case = _case()
    case.enterprise.is_startup = is_startup
    case.enterprise.founded_on = founded_on
    case.enterprise.startup_verified_at = timezone.now() if verified else None
    return case


def test_startup_age_is_counted_to_the_day():
    limit = founded_limit(timezone.localdate())
    rule = _rule(startup_required=True)

    _result, on_the_limit = _checks(_startup_case(is_startup=True, founded_on=limit, verified=True), rule)
    _result, a_day_older = _checks(
        _startup_case(is_startup=True, founded_on=limit - dt.timedelta(days=1), verified=True), rule
    )

    assert on_the_limit["startup_age"] == (
        True,
        f"Founded on {limit.isoformat()}: within {STARTUP_MAX_YEARS} years, as an innovative startup must be.",
    )
    assert a_day_older["startup_age"] == (
        False,
        f"Founded on {(limit - dt.timedelta(days=1)).isoformat()}: an innovative startup must be at most 5 years old.",
    )


@pytest.mark.parametrize(
    ("is_startup", "founded_years_ago", "verified", "failed"),
    [
        (True, 1, True, []),
        (False, 1, True, ["startup_age"]),
        (True, 6, True, ["startup_age"]),
        (True, None, True, ["startup_age"]),
        (True, 1, False, ["startup_verified"]),
        (False, 1, False, ["startup_age", "startup_verified"]),
    ],
)
def test_a_startup_rule_needs_a_declared_young_and_verified_startup(is_startup, founded_years_ago, verified, failed):
    founded = None if founded_years_ago is None else timezone.localdate() - dt.timedelta(days=366 * founded_years_ago)
    case = _startup_case(is_startup=is_startup, founded_on=founded, verified=verified)

    result = _checks(case, _rule(startup_required=True))[0]

    assert [check.code for check in result.failed] == failed


def test_a_rule_without_startup_requirement_ignores_startup_status():
    case = _startup_case(is_startup=False, founded_on=None, verified=False)

    result, checks = _checks(case, _rule(startup_required=False))

    assert result.eligible is True
    assert checks["startup_age"] == (True, "The rule does not require an innovative startup.")


@pytest.mark.parametrize(("items", "passed"), [(0, True), (2, True), (3, False), (4, False)])
def test_live_items_must_stay_below_the_maximum(items, passed):
    usage = EnterpriseUsage(items=items, approved_items=0, held=0)

    _result, checks = _checks(rule=_rule(max_items_per_enterprise=3), usage=usage)

    assert checks["item_count"][0] is passed


@pytest.mark.parametrize(
    ("held", "passed", "reason"),
    [
        (0, True, "25,000,000 VND is left of the enterprise's yearly cap of 25,000,000 VND."),
        (24_999_999, True, "1 VND is left of the enterprise's yearly cap of 25,000,000 VND."),
        (25_000_000, False, "The enterprise has used all of its yearly cap of 25,000,000 VND under this rule."),
        (30_000_000, False, "The enterprise has used all of its yearly cap of 25,000,000 VND under this rule."),
    ],
)
def test_some_of_the_yearly_cap_must_be_left(held, passed, reason):
    usage = EnterpriseUsage(items=1, approved_items=1, held=held)

    _result, checks = _checks(rule=_rule(enterprise_year_cap=25_000_000), usage=usage)

    assert checks["enterprise_year_cap"] == (passed, reason)


@pytest.mark.parametrize(("count", "passed"), [(0, False), (1, True), (50, True)])
def test_at_least_one_cost_line_is_needed(count, passed):
    _result, checks = _checks(cost_lines=count)

    assert checks["cost_lines"][0] is passed


def test_every_failed_condition_is_reported_at_once():
    case = _startup_case(is_startup=False, founded_on=None, verified=False)
    case.enterprise.province_code = "01"
    rule = _rule(
        legal_forms=["cooperative"],
        size_classes=["large"],
        province_codes=["68"],
        startup_required=True,
        max_items_per_enterprise=1,
        enterprise_year_cap=1,
    )

    result = _checks(case, rule, cost_lines=0, usage=EnterpriseUsage(items=1, approved_items=1, held=1))[0]

    assert result.eligible is False
    assert [check.code for check in result.failed] == [
        "legal_form",
        "size_class",
        "province",
        "startup_age",
        "startup_verified",
        "item_count",
        "enterprise_year_cap",
        "cost_lines",
    ]
    assert [row["code"] for row in result.as_data() if not row["passed"]] == [c.code for c in result.failed]


@pytest.mark.django_db
def test_enterprise_usage_counts_live_items_and_held_money_of_other_cases(case_in, officer):
    from cases import services

    own = case_in("draft")
    case_in("submitted")
    case_in("approved")  # 10M
    paid = case_in("approved")
    services.case_disburse(
        case=paid, actor=officer, amount=4_000_000, paid_on=timezone.localdate(), payment_reference="U"
    )
    case_in("withdrawn")
    case_in("rejected")
    case_in("cancelled")
    case_in("draft")

    assert limits.enterprise_usage(own) == EnterpriseUsage(items=3, approved_items=2, held=14_000_000)


# --- applicants.startup.young_enough ----------------------------------------------------------


@pytest.mark.parametrize(
    ("founded", "on", "expected"),
    [
        (dt.date(2020, 2, 29), dt.date(2025, 2, 28), True),  # the fifth anniversary of 29 February
        (dt.date(2020, 2, 29), dt.date(2025, 3, 1), False),
        (dt.date(2020, 3, 1), dt.date(2025, 3, 1), True),  # exactly five years
        (dt.date(2020, 3, 1), dt.date(2025, 3, 2), False),  # five years and a day
        (dt.date(2020, 2, 28), dt.date(2025, 2, 28), True),
        (dt.date(2020, 2, 28), dt.date(2025, 3, 1), False),
        (dt.date(2019, 3, 1), dt.date(2024, 2, 29), True),  # checked on 29 February
        (dt.date(2019, 2, 27), dt.date(2024, 2, 29), False),
        (dt.date(2024, 6, 1), dt.date(2024, 6, 1), True),  # founded today
        (None, dt.date(2025, 1, 1), False),  # no founding date on file
    ],
)
def test_young_enough_means_at_most_five_years_since_founding(founded, on, expected):
    assert young_enough(founded, on=on) is expected


@pytest.mark.parametrize(
    ("on", "limit"),
    [
        (dt.date(2025, 2, 28), dt.date(2020, 2, 28)),
        (dt.date(2025, 3, 1), dt.date(2020, 3, 1)),
        (dt.date(2024, 12, 31), dt.date(2019, 12, 31)),
    ],
)
def test_founded_limit_is_the_same_date_five_years_earlier(on, limit):
    assert founded_limit(on) == limit


def test_on_29_february_a_firm_founded_on_28_february_five_years_earlier_is_too_old():
    assert young_enough(dt.date(2019, 2, 28), on=dt.date(2024, 2, 29)) is False
