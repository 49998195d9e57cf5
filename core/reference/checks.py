"""Checking one row of a reference extract: values as stored, or every (column, reason) wrong with it.

NIK and KK structure come from ``core.households.identity``, one-line text from
``core.foundation.text``; region codes must be loaded villages. Plain data in and out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from core.foundation.enums import Sex
from core.foundation.text import line_problem
from core.households.identity import kk_problem, nik_problem, nik_settled
from core.reference.formats import LEVEL_GRADES, BpjsSegment, CivilStatus, SchoolLevel, Source

Problems = list[tuple[str, str]]
#: A row's stored values and its problems: no values — the row is refused for its problems; values
#: with problems — the row is kept and its problems are reported as notes (a Dapodik pupil whose
#: NIK is broken is kept without it).
Checker = Callable[[Sequence[str]], "tuple[tuple[Any, ...], Problems]"]
EARLIEST = date(1900, 1, 1)
_NISN = re.compile(r"[0-9]{10}")
_NPSN = re.compile(r"[0-9A-Z]{8}")
_CARD = re.compile(r"[0-9]{13}")
_SEMESTER = re.compile(r"(19|20)[0-9]{2}-[12]")
_SEX = {"L": Sex.MALE.value, "P": Sex.FEMALE.value}
_BOOL = {"true": True, "false": False}
_STATUS = {status.value for status in CivilStatus}
_LEVELS = {level.value: LEVEL_GRADES[level] for level in SchoolLevel}
_SEGMENTS = {segment.value for segment in BpjsSegment}


@dataclass(frozen=True, slots=True)
class CheckContext:
    villages: frozenset[str]  # loaded village codes
    districts: frozenset[str]  # loaded district codes, for the NIK's fast path
    today: date


class _Row:
    """Collects problems while reading one row's cells."""

    __slots__ = ("context", "problems")

    def __init__(self, context: CheckContext) -> None:
        self.context = context
        self.problems: Problems = []

    def wrong(self, column: str, reason: str) -> None:
        self.problems.append((column, reason))

    def nik(self, column: str, value: str, required: bool = True) -> str | None:
        value = value.strip()
        if not value:
            if required:
                self.wrong(column, "is required")
            return None
        if nik_settled(value, self.context.districts):
            return value
        problem = nik_problem(value)
        if problem:
            self.wrong(column, problem)
        return value

    def kk(self, column: str, value: str) -> str | None:
        value = value.strip()
        problem = "is required" if not value else kk_problem(value)
        if problem:
            self.wrong(column, problem)
        return value

    def line(self, column: str, value: str, limit: int, required: bool = True) -> str | None:
        value = value.strip()
        if not value:
            if required:
                self.wrong(column, "is required")
            return None
        problem = line_problem(value)
        if problem:
            self.wrong(column, problem)
        elif len(value) > limit:
            self.wrong(column, f"is longer than {limit} characters")
        return value

    def day(self, column: str, value: str, required: bool = True, timestamp: bool = False) -> date | None:
        value = value.strip()
        if not value:
            if required:
                self.wrong(column, "is required")
            return None
        try:
            parsed = (
                datetime.fromisoformat(value).date() if timestamp and len(value) > 10 else date.fromisoformat(value)
            )
        except ValueError:
            self.wrong(column, "must be a date YYYY-MM-DD" + (" (a time may follow)" if timestamp else ""))
            return None
        if parsed > self.context.today:
            self.wrong(column, "is in the future")
        elif parsed < EARLIEST:
            self.wrong(column, "is before 1900")
        return parsed

    def choice(self, column: str, value: str, table: dict[str, Any] | set[str], allowed: str) -> Any:
        value = value.strip()
        if value not in table:
            self.wrong(column, f"must be {allowed}" if value else f"is required ({allowed})")
            return None
        return table[value] if isinstance(table, dict) else value


def adminduk_checker(context: CheckContext) -> Checker:
    villages, districts, today = context.villages, context.districts, context.today
    alive_or_moved = {CivilStatus.ALIVE.value, CivilStatus.MOVED.value}
    no_problems: Problems = []

    def quick(cells: Sequence[str]) -> tuple[Any, ...] | None:
        """The stored values of a row that certainly passes every check, or None: then ``check`` decides.

        Covers the common row (alive or moved, plain dates) in a fraction of the time; whatever it
        accepts, the full check accepts with the same values."""
        nik, kk, full_name, birth_place, birth_date, sex, village, status, death_date, updated_at = cells
        nik, kk, name, place = nik.strip(), kk.strip(), full_name.strip(), birth_place.strip()
        village, status = village.strip(), status.strip()
        sex_value = _SEX.get(sex.strip())
        if (
            sex_value is None
            or status not in alive_or_moved
            or death_date.strip()
            or village not in villages
            or not name
            or len(name) > 150
            or len(place) > 100
            or kk_problem(kk) is not None
            or not nik_settled(nik, districts)
            or line_problem(name) is not None
            or (place and line_problem(place) is not None)
        ):
            return None
        try:
            born = date.fromisoformat(birth_date.strip())
            updated = date.fromisoformat(updated_at.strip())
        except ValueError:
            return None
        if not (EARLIEST <= born <= today and EARLIEST <= updated <= today):
            return None
        return (nik, kk, name, place or None, born, born.year, sex_value, village, village[:5], status, None, updated)

    def check(cells: Sequence[str]) -> tuple[tuple[Any, ...], Problems]:
        values = quick(cells)
        if values is not None:
            return values, no_problems
        nik, kk, full_name, birth_place, birth_date, sex, village, status, death_date, updated_at = cells
        row = _Row(context)
        nik_value = row.nik("nik", nik)
        kk_value = row.kk("kk", kk)
        name = row.line("full_name", full_name, 150)
        place = row.line("birth_place", birth_place, 100, required=False)
        born = row.day("birth_date", birth_date)
        sex_value = row.choice("sex", sex, _SEX, "L or P")
        village = village.strip()
        if village not in villages:
            row.wrong("village_code", "is required" if not village else "is not a loaded village code")
        state = row.choice("status", status, _STATUS, "alive, deceased or moved")
        died = row.day("death_date", death_date, required=state == CivilStatus.DECEASED.value)
        if died is not None and state != CivilStatus.DECEASED.value:
            row.wrong("death_date", "must be empty unless status is deceased")
        elif died is not None and born is not None and died < born:
            row.wrong("death_date", "is before birth_date")
        updated = row.day("updated_at", updated_at, timestamp=True)
        if row.problems:
            return (), row.problems
        assert born is not None
        values = (
            nik_value, kk_value, name, place, born, born.year, sex_value,
            village, village[:5], state, died, updated,
        )  # fmt: skip
        return values, row.problems

    return check


def dapodik_checker(context: CheckContext) -> Checker:
    def check(cells: Sequence[str]) -> tuple[tuple[Any, ...], Problems]:
        nisn, nik, name, birth_date, sex, npsn, level, grade, enrolled, attendance, semester = cells
        row = _Row(context)
        nisn = nisn.strip()
        if not _NISN.fullmatch(nisn):
            row.wrong("nisn", "must be exactly 10 digits" if nisn else "is required")
        nik_value = row.nik("nik", nik, required=False)
        name_value = row.line("name", name, 150)
        born = row.day("birth_date", birth_date)
        sex_value = row.choice("sex", sex, _SEX, "L or P")
        npsn = npsn.strip()
        if not _NPSN.fullmatch(npsn):
            row.wrong("npsn", "must be 8 capital letters or digits" if npsn else "is required")
        grades = row.choice("level", level, _LEVELS, "SD, SMP, SMA or SMK")
        grade_value: int | None = None
        try:
            grade_value = int(grade.strip())
        except ValueError:
            row.wrong("grade", "must be a whole number")
        if grade_value is not None and grades is not None and grade_value not in grades:
            row.wrong("grade", f"must be {grades.start}-{grades.stop - 1} at level {level.strip()}")
        enrolled_value = row.choice("enrolled", enrolled.lower(), _BOOL, "true or false")
        attendance = attendance.strip()
        percent: float | None = None
        if attendance:
            try:
                percent = float(attendance)
            except ValueError:
                row.wrong("attendance_pct", "must be a number 0-100")
            else:
                if not 0 <= percent <= 100:
                    row.wrong("attendance_pct", "must be a number 0-100")
        semester = semester.strip()
        if not _SEMESTER.fullmatch(semester):
            row.wrong("semester", "must be YYYY-1 or YYYY-2" if semester else "is required")
        kept_without_nik = bool(row.problems) and all(column == "nik" for column, _ in row.problems)
        if row.problems and not kept_without_nik:
            return (), row.problems
        if kept_without_nik:
            # A pupil exists whatever was typed as their NIK: kept, to be found by name and birth date.
            nik_value = None
            row.problems = [("nik", f"{reason}; the pupil is kept without a NIK") for _, reason in row.problems]
        assert born is not None
        values = (
            nisn, nik_value, name_value, born, born.year, sex_value, npsn,
            level.strip(), grade_value, enrolled_value, percent, semester,
        )  # fmt: skip
        return values, row.problems

    return check


def bpjs_checker(context: CheckContext) -> Checker:
    def check(cells: Sequence[str]) -> tuple[tuple[Any, ...], Problems]:
        nik, card, segment, active = cells
        row = _Row(context)
        nik_value = row.nik("nik", nik)
        card = card.strip()
        if not _CARD.fullmatch(card):
            row.wrong("card_number", "must be exactly 13 digits" if card else "is required")
        segment_value = row.choice("segment", segment, _SEGMENTS, "PBI-APBN, PBI-APBD or OTHER")
        active_value = row.choice("active", active.lower(), _BOOL, "true or false")
        if row.problems:
            return (), row.problems
        return (nik_value, card, segment_value, active_value), row.problems

    return check


CHECKERS: dict[Source, Callable[[CheckContext], Checker]] = {
    Source.ADMINDUK: adminduk_checker,
    Source.DAPODIK: dapodik_checker,
    Source.BPJS: bpjs_checker,
}

#: The stored columns each checker's values fill, after snapshot_id and row_number.
STORED_COLUMNS: dict[Source, tuple[str, ...]] = {
    Source.ADMINDUK: (
        "nik", "kk", "full_name", "birth_place", "birth_date", "birth_year", "sex",
        "village_code", "regency_code", "status", "death_date", "updated_at",
    ),
    Source.DAPODIK: (
        "nisn", "nik", "name", "birth_date", "birth_year", "sex", "npsn",
        "level", "grade", "enrolled", "attendance_pct", "semester",
    ),
    Source.BPJS: ("nik", "card_number", "segment", "active"),
}  # fmt: skip
