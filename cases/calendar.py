"""Working days the way the law counts them: Vietnam's public holidays (lunar Tết,
substitute days off, swapped working Saturdays) from `holidays.VN`, then the department's
own overrides, which win. Overrides are read from the database each time a calendar is
built, so a change takes effect at once, without a restart.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import holidays

from cases.models import CalendarOverride

ONE_DAY = dt.timedelta(days=1)


@cache
def _national() -> holidays.HolidayBase:
    """The national calendar, built once per process (about 4 ms each time otherwise, on
    every detail and receive); it fills in each year the first time a date of it is asked."""
    return holidays.country_holidays("VN")


class WorkingCalendar:
    def __init__(self, overrides: dict[dt.date, bool] | None = None) -> None:
        self.overrides = (
            overrides if overrides is not None else dict(CalendarOverride.objects.values_list("date", "working"))
        )

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        return bool(_national().is_working_day(day))

    def add(self, start: dt.date, days: int) -> dt.date:
        """The `days`-th working day after `start` (start itself not counted)."""
        day = start
        while days > 0:
            day += ONE_DAY
            if self.is_working_day(day):
                days -= 1
        return day

    def count(self, after: dt.date, until: dt.date) -> int:
        """Working days in (after, until]; 0 when `until` is not after `after`."""
        total, day = 0, after
        while day < until:
            day += ONE_DAY
            total += self.is_working_day(day)
        return total

    def next_working_day(self, day: dt.date) -> dt.date:
        """`day` itself if it is a working day, else the next one."""
        while not self.is_working_day(day):
            day += ONE_DAY
        return day
