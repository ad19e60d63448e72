"""The officers' queue key: day by day, priority within a day, then first come, first served."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from cases.models import queue_key_for

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CREATED = dt.datetime(2026, 1, 1, 9, tzinfo=HCM)


def key(priority: int, *when: int) -> str:
    return queue_key_for(priority=priority, submitted_at=dt.datetime(*when, tzinfo=HCM), created_at=CREATED)


def test_on_the_same_day_more_priority_criteria_come_first_whatever_the_time():
    assert key(3, 2026, 3, 2, 16, 59) < key(1, 2026, 3, 2, 8, 0) < key(0, 2026, 3, 2, 7, 0)


def test_on_the_same_day_and_priority_first_come_first_served():
    assert key(1, 2026, 3, 2, 8, 0, 0, 1) < key(1, 2026, 3, 2, 8, 0, 0, 2)


def test_an_earlier_day_comes_before_a_later_day_whatever_the_priority():
    assert key(0, 2026, 3, 2, 16, 0) < key(3, 2026, 3, 3, 8, 0)


def test_the_day_is_the_local_day_not_the_utc_one():
    early = key(0, 2026, 3, 3, 6, 30)  # 23:30 on 2 March in UTC
    assert early.startswith("20260303")
    assert key(3, 2026, 3, 3, 8, 0) < early  # the same local day: priority first, though later
    assert key(3, 2026, 3, 2, 20, 0) < early  # the local day before comes first


def test_drafts_come_after_every_dossier():
    draft = queue_key_for(priority=0, submitted_at=None, created_at=CREATED)
    assert draft > key(0, 2099, 12, 31, 23, 59)
