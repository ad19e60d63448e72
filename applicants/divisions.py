"""Province and ward codes of the 2025 two-tier administrative divisions.

Backed by the `vietnam-provinces` package. Codes are stored as zero-padded strings
(province "68", ward "24781"), the form official registers print.
"""

from __future__ import annotations

from functools import cache

from vietnam_provinces import Province, Ward


@cache
def _provinces() -> dict[str, str]:
    return {f"{int(p.code):02d}": p.name for p in Province.iter_all()}


@cache
def _wards() -> dict[str, tuple[str, str]]:
    return {f"{int(w.code):05d}": (w.name, f"{int(w.province_code):02d}") for w in Ward.iter_all()}


def normalise_province_code(code: str) -> str:
    return code.strip().zfill(2) if code.strip().isdigit() else code.strip()


def normalise_ward_code(code: str) -> str:
    return code.strip().zfill(5) if code.strip().isdigit() else code.strip()


def province_name(code: str) -> str | None:
    return _provinces().get(code)


def ward(code: str) -> tuple[str, str] | None:
    """(ward name, province code) for a ward code, or None when it does not exist."""
    return _wards().get(code)
