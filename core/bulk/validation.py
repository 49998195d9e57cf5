"""Checking households read from a file: cell formats, then every rule of ``core.households.rules``.

Only rules that need no other household run here; the registry checks (a NIK or KK already
active) are set-based, per batch, in ``core.bulk.claims``. Everything here is plain data in and
out, so batches can be checked in worker processes while the main process writes.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from typing import Any, NamedTuple

from core.bulk.layout import HOUSEHOLD_PART, HOUSEHOLD_WIDTH, MEMBER_PART
from core.bulk.records import FileHousehold, Record, is_blank, record_cells
from core.households.data import HOUSEHOLD_COLUMNS, HouseholdData, MemberData
from core.households.rules import full_household_errors

RowError = tuple[int, str, str]  # row number as in the file, column, reason
_CAPITAL = re.compile(r"(?<!^)(?=[A-Z])")


class Candidate(NamedTuple):
    """A household that passed every rule needing no other household, values as stored."""

    kk_number: str
    first_row: int
    values: tuple[Any, ...]  # HOUSEHOLD_COLUMNS order
    members: tuple[tuple[Any, ...], ...]  # MEMBER_COLUMNS order, file order
    member_rows: tuple[int, ...]


class CheckedBatch(NamedTuple):
    candidates: list[Candidate]
    errors: list[RowError]
    rejected: int  # households left out
    rows: int  # rows that are not blank


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What checking needs besides the rows: the region list, today, the file's shape."""

    region_codes: frozenset[str]
    today: date
    positions: tuple[int, ...]  # for each layout column, its position in the file's rows
    width: int  # cells in the header row
    text_records: bool  # CSV text records, or cell lists


def _cells_or_reason(record: Record, text: bool) -> list[str] | str:
    """A record's cells, or why it is not CSV."""
    try:
        return next(record_cells([record], text))
    except csv.Error as exc:
        return str(exc)


def _differing_column(cells: Sequence[str], first: Sequence[Any], unreadable: set[str], csv: bool) -> str | None:
    """The first household column whose value differs from the first row's (spelling aside), or None.

    Columns unreadable on the first row are already reported there.
    """
    values, _ = HOUSEHOLD_PART.parse(cells, csv)
    return next(
        (
            name
            for name, value, first_value in zip(HOUSEHOLD_COLUMNS, values, first, strict=True)
            if value != first_value and name not in unreadable
        ),
        None,
    )


def _column_of(path: str) -> str:
    return _CAPITAL.sub("_", path).lower()


def _located(path: str, first_row: int, member_rows: Sequence[int]) -> tuple[int, str]:
    """The file row and column of a rule's field path (``kkNumber``, ``members.2.birthDate``)."""
    head, _, rest = path.partition(".")
    if head == "members" and rest:
        index, _, name = rest.partition(".")
        return member_rows[int(index)], _column_of(name)
    if head == "members":  # the household's composition: reported on its first row
        return first_row, "relationship"
    return first_row, _column_of(path)


class _Checker:
    def __init__(self, context: CheckContext) -> None:
        self.context = context
        self.in_layout_order = itemgetter(*context.positions)
        self.region_exists = context.region_codes.__contains__

    def rows(self, household: FileHousehold) -> list[tuple[int, list[str] | str]]:
        """The household's rows that are not blank, with their row numbers; why not, for a row that is not CSV."""
        first_row, records = household
        numbered = [(first_row + offset, record) for offset, record in enumerate(records) if not is_blank(record)]
        text = self.context.text_records
        try:
            cells: list[list[str] | str] = list(record_cells([record for _, record in numbered], text))
        except csv.Error:  # a cell over the csv module's limit: find the bad rows one by one
            cells = [_cells_or_reason(record, text) for _, record in numbered]
        return [(number, row) for (number, _), row in zip(numbered, cells, strict=True)]

    def household(self, rows: list[tuple[int, list[str] | str]]) -> Candidate | list[RowError]:
        """The household as a candidate for loading, or every error found in its rows."""
        found: list[RowError] = []
        ordered: list[tuple[int, tuple[str, ...]]] = []
        width = self.context.width
        for number, cells in rows:
            if isinstance(cells, str):
                found.append((number, "columns", f"the row is not valid CSV ({cells})"))
            elif len(cells) < width or (len(cells) > width and any(cell.strip() for cell in cells[width:])):
                found.append((number, "columns", f"the row has {len(cells)} cells; the header has {width}"))
            else:
                ordered.append((number, self.in_layout_order(cells)))
        if not ordered:
            return found
        first_row, first = ordered[0]
        own = first[:HOUSEHOLD_WIDTH]
        text = self.context.text_records
        household_values, problems = HOUSEHOLD_PART.parse(own, text)
        found.extend((first_row, column, reason) for column, reason in problems)
        unreadable = {column for column, _ in problems}
        member_values: list[list[Any]] = []
        member_rows: list[int] = []
        for number, cells in ordered:
            if cells[:HOUSEHOLD_WIDTH] != own:
                column = _differing_column(cells[:HOUSEHOLD_WIDTH], household_values, unreadable, text)
                if column:
                    found.append(
                        (
                            number,
                            column,
                            f"differs from row {first_row}, this household's first row; "
                            "household columns must be the same on all its rows",
                        )
                    )
            values, problems = MEMBER_PART.parse(cells[HOUSEHOLD_WIDTH:], text)
            found.extend((number, column, reason) for column, reason in problems)
            member_values.append(values)
            member_rows.append(number)
        if found:
            return found
        data = HouseholdData(*household_values, members=[MemberData(*values) for values in member_values])
        problems = full_household_errors(data, self.region_exists, self.context.today)
        if problems:
            return [(*_located(error.field, first_row, member_rows), error.message) for error in problems]
        return Candidate(
            kk_number=data.kk_number,
            first_row=first_row,
            values=HOUSEHOLD_PART.stored(household_values),
            members=tuple(MEMBER_PART.stored(values) for values in member_values),
            member_rows=tuple(member_rows),
        )


def check_batch(households: Sequence[FileHousehold], context: CheckContext) -> CheckedBatch:
    """Check each household of a batch; the bad ones become row errors, the rest candidates."""
    checker = _Checker(context)
    candidates: list[Candidate] = []
    errors: list[RowError] = []
    rejected = rows = 0
    for household in households:
        numbered = checker.rows(household)
        if not numbered:
            continue
        rows += len(numbered)
        outcome = checker.household(numbered)
        if isinstance(outcome, Candidate):
            candidates.append(outcome)
        else:
            errors.extend(sorted(outcome))
            rejected += 1
    return CheckedBatch(candidates=candidates, errors=errors, rejected=rejected, rows=rows)
