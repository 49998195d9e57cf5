"""The household file layout: one row per member, the household's columns repeated on each row.

Columns are the fields of ``HouseholdData`` then those of ``MemberData``, named as in the
tables; cells are text: coded answers as the lowercase values of ``core.foundation.enums``, booleans
``true``/``false`` (``1``/``0`` and ``ya``/``tidak`` are read too), dates ``YYYY-MM-DD``,
decimals with a dot; digits are ASCII digits. A CSV text cell that the CSV export neutralised
against spreadsheet formulas (``'=...``, see ``core.foundation.spreadsheet``) is read back without that
apostrophe; XLSX text cells are never neutralised, so they are read as they are.
``docs/import-format.md`` is the reader's version of this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, get_type_hints

from core.foundation.spreadsheet import restored
from core.households.data import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS, HouseholdData, MemberData

FILE_COLUMNS: tuple[str, ...] = (*HOUSEHOLD_COLUMNS, *MEMBER_COLUMNS)
HOUSEHOLD_WIDTH = len(HOUSEHOLD_COLUMNS)
KK_POSITION = FILE_COLUMNS.index("kk_number")

_BOOLEANS = {"true": True, "1": True, "ya": True, "false": False, "0": False, "tidak": False}
_WHOLE = re.compile(r"-?[0-9]+")
# Python's float() also takes other scripts' digits and underscores ("1_000"): only these are numbers.
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_SHOWN = 40  # characters of a bad cell quoted back in a message


class CellError(ValueError):
    """A cell whose text is not a value of its column; the message is the reason."""


class HeaderMismatch(ValueError):
    """A header row that is not the layout's set of columns."""


def _quoted(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


_text = str.strip  # text cells lose surrounding spaces; the household rules judge the rest


def _csv_text(cell: str) -> str:
    """A CSV text cell, without the apostrophe the CSV export put before a formula character."""
    text = cell.strip()
    return restored(text) if text[:1] == "'" else text


def _boolean(cell: str) -> bool:
    try:
        return _BOOLEANS[cell]
    except KeyError:
        pass
    word = cell.strip().lower()
    if word in _BOOLEANS:
        return _BOOLEANS[word]
    raise CellError(f"{_quoted(cell)} is not a yes/no value; use true or false")


def _number(cell: str) -> float:
    text = cell.strip()
    if not _DECIMAL.fullmatch(text):
        hint = "; use a dot as the decimal separator" if re.fullmatch(r"-?[0-9]+,[0-9]+", text) else ""
        raise CellError(f"{_quoted(cell)} is not a number{hint}")
    value = float(text)
    if not math.isfinite(value):
        raise CellError(f"{_quoted(cell)} is not a finite number")
    return value


def _optional_number(cell: str) -> float | None:
    return _number(cell) if cell.strip() else None


def _whole_number(cell: str) -> int:
    text = cell.strip()
    if not _WHOLE.fullmatch(text):
        raise CellError(f"{_quoted(cell)} is not a whole number")
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (4,300): far outside any column's range
        raise CellError(f"{_quoted(cell)} has too many digits") from None


def _iso_date(cell: str) -> date:
    text = cell.strip()
    if len(text) == 10 and text[4] == text[7] == "-" and text.isascii():
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise CellError(f"{_quoted(cell)} is not a date in the form YYYY-MM-DD")


def _coded(kind: type[StrEnum]) -> Callable[[str], StrEnum]:
    by_value = {member.value: member for member in kind}
    allowed = ", ".join(by_value)

    def parse(cell: str) -> StrEnum:
        try:
            return by_value[cell]
        except KeyError:
            pass
        try:
            return by_value[cell.strip().lower()]
        except KeyError:
            raise CellError(f"{_quoted(cell)} is not one of: {allowed}") from None

    return parse


def _plain(value: Any) -> str:
    return "" if value is None else str(value)


def _date_text(value: date | None) -> str:
    return "" if value is None else value.isoformat()


def _boolean_text(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def _number_text(value: float | None) -> str:
    return "" if value is None else repr(float(value))


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the file: how its text is read and written."""

    name: str
    parse: Callable[[str], Any]
    format: Callable[[Any], str]
    numeric: bool = False  # written as a number in XLSX
    coded: bool = False  # read as a ``core.foundation.enums`` member, stored as its value
    csv_parse: Callable[[str], Any] | None = None  # how a CSV cell is read, when not as ``parse``


def _column(name: str, kind: Any) -> Column:
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        return Column(name, _coded(kind), _plain, coded=True)
    by_kind: dict[Any, Column] = {
        str: Column(name, _text, _plain, csv_parse=_csv_text),
        bool: Column(name, _boolean, _boolean_text),
        int: Column(name, _whole_number, _plain, numeric=True),
        float: Column(name, _number, _number_text, numeric=True),
        float | None: Column(name, _optional_number, _number_text, numeric=True),
        date: Column(name, _iso_date, _date_text),
    }
    if kind not in by_kind:
        raise TypeError(f"the file layout has no cell format for {name}: {kind}")
    return by_kind[kind]


def _columns() -> tuple[Column, ...]:
    kinds = {**get_type_hints(HouseholdData), **get_type_hints(MemberData)}
    return tuple(_column(name, kinds[name]) for name in FILE_COLUMNS)


COLUMNS: tuple[Column, ...] = _columns()


class ColumnGroup:
    """Columns read together: the household's own, or a member's."""

    __slots__ = ("columns", "parsers", "coded")

    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns = tuple(columns)
        self.parsers = {
            False: tuple(column.parse for column in columns),
            True: tuple(column.csv_parse or column.parse for column in columns),
        }
        self.coded = tuple(index for index, column in enumerate(columns) if column.coded)

    def parse(self, cells: Sequence[str], csv: bool = False) -> tuple[list[Any], list[tuple[str, str]]]:
        """Typed values of ``cells`` (of a CSV file if ``csv``), and (column, reason) for each bad cell."""
        parsers = self.parsers[csv]
        try:
            return [parse(cell) for parse, cell in zip(parsers, cells, strict=True)], []
        except CellError:
            pass  # read again cell by cell, to name every bad one
        values: list[Any] = []
        errors: list[tuple[str, str]] = []
        for column, parse, cell in zip(self.columns, parsers, cells, strict=True):
            try:
                values.append(parse(cell))
            except CellError as exc:
                values.append(None)
                errors.append((column.name, str(exc)))
        return values, errors

    def stored(self, values: list[Any]) -> tuple[Any, ...]:
        """Parsed values as the tables hold them: coded answers as their plain strings."""
        for index in self.coded:
            values[index] = values[index]._value_
        return tuple(values)


HOUSEHOLD_PART = ColumnGroup(COLUMNS[:HOUSEHOLD_WIDTH])
MEMBER_PART = ColumnGroup(COLUMNS[HOUSEHOLD_WIDTH:])


def header_positions(header: Sequence[str]) -> tuple[int, ...]:
    """For each layout column, its position in a file with this header row.

    Names are compared without surrounding spaces and case; HeaderMismatch names every missing,
    unknown or repeated column.
    """
    names = [cell.strip().lower() for cell in header]
    while names and not names[-1]:
        names.pop()
    problems: list[str] = []
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        problems.append("repeated columns: " + ", ".join(name or "(blank)" for name in repeated))
    missing = [name for name in FILE_COLUMNS if name not in names]
    if missing:
        problems.append("missing columns: " + ", ".join(missing))
    unknown = [name or "(blank)" for name in names if name not in FILE_COLUMNS]
    if unknown:
        problems.append("unknown columns: " + ", ".join(unknown))
    if problems:
        raise HeaderMismatch("; ".join(problems))
    return tuple(names.index(name) for name in FILE_COLUMNS)


def format_cells(values: Sequence[Any]) -> list[str]:
    """The text of one file row from its typed values in layout order."""
    return [column.format(value) for column, value in zip(COLUMNS, values, strict=True)]


def household_rows(data: HouseholdData) -> Iterator[list[str]]:
    """The file rows of one household: one per member."""
    own = [getattr(data, name) for name in HOUSEHOLD_COLUMNS]
    for member in data.members:
        yield format_cells([*own, *(getattr(member, name) for name in MEMBER_COLUMNS)])
