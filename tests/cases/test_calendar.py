"""Working-day arithmetic: Tết, substitute days off, swapped working Saturdays, and the
department's own overrides (which win)."""

from __future__ import annotations

import datetime as dt

import pytest

from cases.calendar import WorkingCalendar

D = dt.date
national = WorkingCalendar(overrides={})


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2026, 2, 13), True),  # the Friday before Tết
        (D(2026, 2, 16), False),  # Lunar New Year's Eve
        (D(2026, 2, 20), False),  # fourth day of Tết
        (D(2026, 2, 23), True),  # back to work
        (D(2026, 4, 27), False),  # Hùng Kings' day observed on Monday (it fell on a Sunday)
        (D(2026, 8, 22), True),  # a Saturday worked in exchange for 31 August
        (D(2026, 8, 31), False),  # the day off it bought
        (D(2026, 9, 2), False),  # National Day
        (D(2026, 11, 28), False),  # an ordinary Saturday
    ],
)
def test_the_national_calendar(day, working):
    assert national.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (D(2026, 2, 12), 1, D(2026, 2, 13)),
        (D(2026, 2, 12), 2, D(2026, 2, 23)),  # over the weekend and the whole Tết week
        (D(2026, 2, 12), 5, D(2026, 2, 26)),
        (D(2026, 8, 21), 1, D(2026, 8, 22)),  # the swapped Saturday counts
        (D(2026, 8, 28), 1, D(2026, 9, 3)),  # 31 Aug off, 1-2 Sep National Day
        (D(2026, 11, 27), 15, D(2026, 12, 18)),
    ],
)
def test_adding_working_days(start, days, due):
    assert national.add(start, days) == due
    assert national.count(start, due) == days


def test_counting_is_empty_when_the_end_is_not_later():
    assert national.count(D(2026, 3, 10), D(2026, 3, 10)) == 0
    assert national.count(D(2026, 3, 10), D(2026, 3, 1)) == 0


def test_the_departments_overrides_win_both_ways():
    calendar = WorkingCalendar(overrides={D(2026, 3, 11): False, D(2026, 3, 15): True})  # a Wednesday, a Sunday

    assert calendar.is_working_day(D(2026, 3, 11)) is False
    assert calendar.is_working_day(D(2026, 3, 15)) is True
    assert calendar.add(D(2026, 3, 10), 1) == D(2026, 3, 12)
    assert calendar.add(D(2026, 3, 13), 1) == D(2026, 3, 15)


def test_next_working_day():
    assert national.next_working_day(D(2026, 2, 14)) == D(2026, 2, 23)
    assert national.next_working_day(D(2026, 2, 23)) == D(2026, 2, 23)
