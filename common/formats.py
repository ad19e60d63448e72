"""Numbers as people read them in messages."""

from __future__ import annotations

from django.utils import numberformat
from django.utils.formats import get_format


def vnd(amount: int) -> str:
    """A whole-VND amount grouped by thousands in the active language: 30.000.000 in
    Vietnamese, 30,000,000 in English. (Django's vi formats set the separator but no
    grouping, so the grouping is given here.)"""
    return numberformat.format(
        amount,
        str(get_format("DECIMAL_SEPARATOR")),
        grouping=3,
        thousand_sep=str(get_format("THOUSAND_SEPARATOR")),
        force_grouping=True,
    )
