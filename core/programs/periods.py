"""Program periods: a month (``2026-03``), a quarter/stage (``2026-Q1``) or a year (``2026``).

Every period is a half-open date range; two periods of different kinds overlap when their
ranges do (a BST month overlaps the PKH quarter that contains it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


_FORMS = {
    PeriodKind.MONTH: (re.compile(r"(\d{4})-(0[1-9]|1[0-2])"), "YYYY-MM, e.g. 2026-03"),
    PeriodKind.QUARTER: (re.compile(r"(\d{4})-Q([1-4])"), "YYYY-Qn, e.g. 2026-Q1"),
    PeriodKind.YEAR: (re.compile(r"(\d{4})"), "YYYY, e.g. 2026"),
}


class PeriodError(ValueError):
    """A period string of the wrong form for the program."""


@dataclass(frozen=True, slots=True)
class Period:
    label: str
    kind: PeriodKind
    start: date
    end: date  # exclusive

    @property
    def year(self) -> int:
        return self.start.year

    @property
    def months(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month

    def overlaps(self, other: Period) -> bool:
        return self.start < other.end and other.start < self.end


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def parse_period(label: str, kind: PeriodKind) -> Period:
    """The period ``label`` names, or PeriodError saying the form the program expects."""
    pattern, example = _FORMS[kind]
    match = pattern.fullmatch(label.strip())
    if match is None or not 2000 <= int(match.group(1)) <= 2100:
        raise PeriodError(f"period '{label[:20]}' is not a {kind.value}; write it as {example}")
    year = int(match.group(1))
    if kind is PeriodKind.MONTH:
        start = date(year, int(match.group(2)), 1)
        return Period(label, kind, start, _add_months(start, 1))
    if kind is PeriodKind.QUARTER:
        start = date(year, 3 * (int(match.group(2)) - 1) + 1, 1)
        return Period(label, kind, start, _add_months(start, 3))
    return Period(label, kind, date(year, 1, 1), date(year + 1, 1, 1))


def current_period(kind: PeriodKind, today: date) -> Period:
    """The period of ``kind`` that contains ``today``."""
    if kind is PeriodKind.MONTH:
        return parse_period(f"{today.year}-{today.month:02d}", kind)
    if kind is PeriodKind.QUARTER:
        return parse_period(f"{today.year}-Q{(today.month - 1) // 3 + 1}", kind)
    return parse_period(str(today.year), kind)
