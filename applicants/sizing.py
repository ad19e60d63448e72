"""Enterprise size class per Decree 80/2021/ND-CP Art. 5.

A class applies when employees paying social insurance are within its limit AND either
revenue or capital is within its limit. Thresholds are by sector group; anything above
"medium" is large. Amounts are VND.
"""

from __future__ import annotations

from dataclasses import dataclass

from applicants.models import SectorGroup, SizeClass

BILLION = 1_000_000_000


@dataclass(frozen=True)
class Threshold:
    size_class: SizeClass
    max_employees: int
    max_revenue: int
    max_capital: int


THRESHOLDS: dict[str, tuple[Threshold, ...]] = {
    SectorGroup.AGRICULTURE_INDUSTRY_CONSTRUCTION: (
        Threshold(SizeClass.MICRO, 10, 3 * BILLION, 3 * BILLION),
        Threshold(SizeClass.SMALL, 100, 50 * BILLION, 20 * BILLION),
        Threshold(SizeClass.MEDIUM, 200, 200 * BILLION, 100 * BILLION),
    ),
    SectorGroup.TRADE_SERVICES: (
        Threshold(SizeClass.MICRO, 10, 10 * BILLION, 3 * BILLION),
        Threshold(SizeClass.SMALL, 50, 100 * BILLION, 50 * BILLION),
        Threshold(SizeClass.MEDIUM, 100, 300 * BILLION, 100 * BILLION),
    ),
}


def size_class_for(*, sector_group: str, employees: int, revenue: int, capital: int) -> SizeClass:
    for threshold in THRESHOLDS[sector_group]:
        if employees <= threshold.max_employees and (
            revenue <= threshold.max_revenue or capital <= threshold.max_capital
        ):
            return threshold.size_class
    return SizeClass.LARGE
