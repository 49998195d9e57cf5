"""Household files read record by record: CSV (UTF-8, comma) and XLSX (first sheet).

``survey()`` is the cheap streaming pre-pass that refuses a file as a whole before anything is
written: wrong encoding, empty, header only, wrong columns, formulas, an unreadable workbook, a
workbook that would unzip past its limits (``core.bulk.archive``, checked before openpyxl reads it).
``records()`` then streams the data rows; neither ever holds the whole file. A CSV record is
kept as its raw text (split into cells by the checking workers, so the reading process stays
light); an XLSX record is its list of cells.
"""

from __future__ import annotations

import codecs
import csv
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from core.bulk.archive import WorkbookLimits, WorkbookRefused, check_workbook
from core.bulk.layout import KK_POSITION, HeaderMismatch, header_positions
from core.bulk.records import Record, is_blank

_CHUNK = 1 << 20
_BLANK_BYTES = b" \t\r\n,"


class FileRefused(ValueError):
    """A file that cannot be imported at all; nothing was written."""


@dataclass(frozen=True, slots=True)
class Survey:
    """What the pre-pass learnt about a file that can be imported."""

    positions: tuple[int, ...]  # for each layout column, its position in the file's rows
    width: int  # cells in the header row
    data_rows: int  # about how many rows follow the header (for progress)
    text_records: bool  # records are CSV text, split into cells by ``records.record_cells``

    @property
    def kk_position(self) -> int:
        return self.positions[KK_POSITION]


class HouseholdFile(ABC):
    """A file in the household layout."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @abstractmethod
    def survey(self) -> Survey:
        """Check the whole file cheaply; FileRefused says why it cannot be imported."""

    @abstractmethod
    def records(self) -> Iterator[Record]:
        """Every row after the header, blank ones included, so that position gives the row number."""

    @staticmethod
    @abstractmethod
    def kk_of(record: Record, position: int) -> str | None:
        """The record's KK number cell, stripped; None for a blank row (see ``records.is_blank``)."""

    def _positions(self, header: list[str]) -> tuple[int, ...]:
        try:
            return header_positions(header)
        except HeaderMismatch as exc:
            raise FileRefused(f"{self.path.name}: the header row does not match the layout ({exc})") from None


def open_household_file(path: Path, workbook_limits: WorkbookLimits) -> HouseholdFile:
    """The reader for ``path`` chosen by its extension; a workbook may expand as far as ``workbook_limits``."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return CsvHouseholdFile(path)
    if suffix == ".xlsx":
        return XlsxHouseholdFile(path, workbook_limits)
    raise FileRefused(f"{path.name}: unknown file type '{suffix}'; give a .csv (UTF-8) or .xlsx file")


class CsvHouseholdFile(HouseholdFile):
    """UTF-8 text (a byte-order mark is allowed), comma-separated, header row first."""

    def survey(self) -> Survey:
        name = self.path.name
        header_bytes: bytes | None = None
        head = bytearray()
        breaks = 0
        has_data = False
        last = b""
        with self.path.open("rb") as handle:
            carry = handle.read(4)
            if carry.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise FileRefused(f"{name} is UTF-16 text, not UTF-8; save it as 'CSV UTF-8 (comma delimited)'")
            carry = carry.removeprefix(codecs.BOM_UTF8)
            while True:
                chunk = handle.read(_CHUNK)
                data = carry + chunk
                try:
                    _, used = codecs.utf_8_decode(data, "strict", not chunk)
                except UnicodeDecodeError as exc:
                    line = breaks + data.count(b"\n", 0, exc.start) + 1
                    raise FileRefused(
                        f"{name} is not UTF-8 text: line {line} holds the byte 0x{data[exc.start]:02x}; "
                        "save the file as 'CSV UTF-8 (comma delimited)'"
                    ) from None
                if header_bytes is None:
                    end = data.find(b"\n", 0, used)
                    head += data[:used] if end < 0 else data[:end]
                    if end >= 0:
                        header_bytes = bytes(head)
                        has_data = bool(data[end:used].translate(None, _BLANK_BYTES))
                elif not has_data:
                    has_data = bool(data[:used].translate(None, _BLANK_BYTES))
                breaks += data.count(b"\n", 0, used)
                last = data[used - 1 : used] if used else last
                carry = data[used:]
                if not chunk:
                    break
        header_text = (header_bytes if header_bytes is not None else bytes(head)).decode("utf-8").rstrip("\r")
        if not header_text.strip():
            raise FileRefused(f"{name} is empty; it needs a header row and one row per household member")
        header = next(csv.reader([header_text]))
        if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
            raise FileRefused(f"{name} separates columns with ';' or tabs; the layout needs commas (CSV UTF-8)")
        positions = self._positions(header)
        if not has_data:
            raise FileRefused(f"{name} has a header row but no data rows")
        lines = breaks + (0 if last == b"\n" else 1)
        return Survey(positions=positions, width=len(header), data_rows=max(lines - 1, 1), text_records=True)

    def records(self) -> Iterator[str]:
        """Raw records: a record ends at a line break outside quotes (quotes come in pairs)."""
        with self.path.open(newline="", encoding="utf-8-sig") as handle:
            pending: str | None = None
            header = True
            for line in handle:
                if pending is not None:
                    pending += line
                    if pending.count('"') % 2:
                        continue
                    line, pending = pending, None
                elif '"' in line and line.count('"') % 2:
                    pending = line
                    continue
                if header:
                    header = False
                else:
                    yield line
            if pending is not None and not header:
                yield pending  # an unclosed quote: the checker reports the row

    @staticmethod
    def kk_of(record: Record, position: int) -> str | None:
        text: str = record  # type: ignore[assignment]
        if is_blank(text):
            return None
        if '"' in text:
            cells = next(csv.reader([text]), [])
            return cells[position].strip() if position < len(cells) else ""
        cells = text.split(",", position + 1)
        return cells[position].strip() if position < len(cells) else ""


def cell_text(value: Any) -> str:
    """A typed spreadsheet or Parquet value as the text a layout expects (household files, reference extracts)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class XlsxHouseholdFile(HouseholdFile):
    """An Excel workbook; the first sheet holds the rows, values only (no formulas)."""

    def __init__(self, path: Path, limits: WorkbookLimits) -> None:
        super().__init__(path)
        self.limits = limits

    def _sheet(self) -> tuple[Any, ReadOnlyWorksheet]:
        try:
            book = openpyxl.load_workbook(self.path, read_only=True, data_only=False)
        except Exception as exc:  # openpyxl raises many kinds of errors for a damaged file
            raise self._unreadable(exc) from None
        if not book.worksheets:
            book.close()
            raise FileRefused(f"{self.path.name} has no worksheet")
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # a workbook's stated dimensions may be wrong: read every row there is
        return book, sheet

    def _unreadable(self, exc: Exception) -> FileRefused:
        reason = str(exc).splitlines()[0][:120] if str(exc) else exc.__class__.__name__
        return FileRefused(f"{self.path.name} is not a readable XLSX workbook ({reason}); save it again from Excel")

    def survey(self) -> Survey:
        name = self.path.name
        try:
            check_workbook(self.path, self.limits)
        except WorkbookRefused as exc:
            raise FileRefused(str(exc)) from None
        book, sheet = self._sheet()
        header: list[str] | None = None
        data_rows = 0
        formula: str | None = None
        try:
            for number, cells in enumerate(sheet.iter_rows(), start=1):
                for cell in cells:
                    if cell.data_type == "f":
                        formula = cell.coordinate
                        break
                if formula:
                    break
                if number == 1:
                    header = [cell_text(cell.value) for cell in cells]
                elif any(cell.value not in (None, "") for cell in cells):
                    data_rows += 1
        except Exception as exc:  # a damaged sheet fails while it is read
            raise self._unreadable(exc) from None
        finally:
            book.close()
        if formula:
            raise FileRefused(f"{name}: sheet {sheet.title} cell {formula} holds a formula; export values only")
        if not header or not any(cell.strip() for cell in header):
            raise FileRefused(f"{name} is empty; it needs a header row and one row per household member")
        while header and not header[-1].strip():
            header.pop()
        positions = self._positions(header)
        if not data_rows:
            raise FileRefused(f"{name} has a header row but no data rows")
        return Survey(positions=positions, width=len(header), data_rows=data_rows, text_records=False)

    def records(self) -> Iterator[list[str]]:
        book, sheet = self._sheet()
        try:
            values = sheet.iter_rows(values_only=True)
            header = next(values, ())
            width = len(header)
            for row in values:
                cells = [cell_text(value) for value in row]
                if len(cells) < width:  # a sheet leaves trailing empty cells out
                    cells.extend([""] * (width - len(cells)))
                yield cells
        finally:
            book.close()

    @staticmethod
    def kk_of(record: Record, position: int) -> str | None:
        cells: list[str] = record  # type: ignore[assignment]
        if is_blank(cells):
            return None
        return cells[position].strip() if position < len(cells) else ""
