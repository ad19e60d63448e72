"""Innovative-startup age (Law on SME Support 2017 Art. 17): at most five years since the
first registration, counted in local calendar dates."""

from __future__ import annotations

import datetime as dt

STARTUP_MAX_YEARS = 5


def founded_limit(on: dt.date) -> dt.date:
    """The earliest founding date that still counts as a startup on `on`."""
    try:
        return on.replace(year=on.year - STARTUP_MAX_YEARS)
    except ValueError:  # 29 February: five years earlier has none, and 28 February is a day too many
        return on.replace(year=on.year - STARTUP_MAX_YEARS, month=3, day=1)


def young_enough(founded_on: dt.date | None, *, on: dt.date) -> bool:
    return founded_on is not None and founded_on >= founded_limit(on)
