"""Size class per Decree 80/2021/ND-CP Art. 5: employees paying social insurance AND
(revenue OR capital), with thresholds by sector group; anything above medium is large."""

from __future__ import annotations

import pytest

from applicants.models import SectorGroup, SizeClass
from applicants.sizing import size_class_for

BN = 1_000_000_000
AIC = SectorGroup.AGRICULTURE_INDUSTRY_CONSTRUCTION
TRADE = SectorGroup.TRADE_SERVICES

# (max employees, max revenue, max capital) per class, straight from the decree.
LIMITS = {
    AIC: {
        SizeClass.MICRO: (10, 3 * BN, 3 * BN),
        SizeClass.SMALL: (100, 50 * BN, 20 * BN),
        SizeClass.MEDIUM: (200, 200 * BN, 100 * BN),
    },
    TRADE: {
        SizeClass.MICRO: (10, 10 * BN, 3 * BN),
        SizeClass.SMALL: (50, 100 * BN, 50 * BN),
        SizeClass.MEDIUM: (100, 300 * BN, 100 * BN),
    },
}
NEXT = {SizeClass.MICRO: SizeClass.SMALL, SizeClass.SMALL: SizeClass.MEDIUM, SizeClass.MEDIUM: SizeClass.LARGE}
EDGES = [(group, size) for group in (AIC, TRADE) for size in (SizeClass.MICRO, SizeClass.SMALL, SizeClass.MEDIUM)]
IDS = [f"{group.split('_')[0]}-{size}" for group, size in EDGES]


def classify(group: str, employees: int, revenue: int, capital: int) -> SizeClass:
    return size_class_for(sector_group=group, employees=employees, revenue=revenue, capital=capital)


@pytest.mark.parametrize(("group", "size"), EDGES, ids=IDS)
def test_a_firm_exactly_at_every_limit_of_a_class_belongs_to_it(group, size):
    employees, revenue, capital = LIMITS[group][size]

    assert classify(group, employees, revenue, capital) == size


@pytest.mark.parametrize(("group", "size"), EDGES, ids=IDS)
def test_one_employee_more_than_the_limit_moves_a_firm_up_a_class(group, size):
    employees, revenue, capital = LIMITS[group][size]

    assert classify(group, employees + 1, revenue, capital) == NEXT[size]


@pytest.mark.parametrize(("group", "size"), EDGES, ids=IDS)
def test_revenue_over_the_limit_keeps_the_class_while_capital_is_within(group, size):
    employees, revenue, capital = LIMITS[group][size]

    assert classify(group, employees, revenue + 1, capital) == size


@pytest.mark.parametrize(("group", "size"), EDGES, ids=IDS)
def test_capital_over_the_limit_keeps_the_class_while_revenue_is_within(group, size):
    employees, revenue, capital = LIMITS[group][size]

    assert classify(group, employees, revenue, capital + 1) == size


@pytest.mark.parametrize(("group", "size"), EDGES, ids=IDS)
def test_revenue_and_capital_both_over_the_limit_move_a_firm_up_a_class(group, size):
    employees, revenue, capital = LIMITS[group][size]

    assert classify(group, employees, revenue + 1, capital + 1) == NEXT[size]


@pytest.mark.parametrize("group", [AIC, TRADE])
def test_a_firm_with_nothing_declared_is_micro(group):
    assert classify(group, 0, 0, 0) == SizeClass.MICRO


@pytest.mark.parametrize("group", [AIC, TRADE])
def test_a_firm_above_medium_on_employees_is_large_however_small_its_money(group):
    medium_employees = LIMITS[group][SizeClass.MEDIUM][0]

    assert classify(group, medium_employees + 1, 0, 0) == SizeClass.LARGE


def test_the_same_figures_classify_differently_by_sector_group():
    # 60 employees: small in agriculture/industry/construction (<= 100), medium in
    # trade/services (<= 50 is small there).
    assert classify(AIC, 60, 1 * BN, 1 * BN) == SizeClass.SMALL
    assert classify(TRADE, 60, 1 * BN, 1 * BN) == SizeClass.MEDIUM


def test_revenue_that_is_micro_in_trade_is_not_micro_in_industry():
    # 8 bn revenue and 5 bn capital: trade micro allows 10 bn revenue, industry only 3 bn.
    assert classify(TRADE, 5, 8 * BN, 5 * BN) == SizeClass.MICRO
    assert classify(AIC, 5, 8 * BN, 5 * BN) == SizeClass.SMALL


def test_a_small_workforce_with_large_revenue_and_capital_is_large():
    assert classify(TRADE, 5, 301 * BN, 101 * BN) == SizeClass.LARGE
    assert classify(AIC, 5, 201 * BN, 101 * BN) == SizeClass.LARGE


def test_a_small_workforce_with_huge_revenue_but_micro_capital_is_micro():
    assert classify(TRADE, 10, 1_000 * BN, 3 * BN) == SizeClass.MICRO
    assert classify(AIC, 10, 1_000 * BN, 3 * BN) == SizeClass.MICRO
