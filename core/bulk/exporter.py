"""Exporting households to a file in the import layout, so that export then import round-trips.

One query joins active households of a region (and everything below it) with their active
members, ordered by village, KK number and member, and streams it in chunks: memory stays flat
whatever the region's size. Households without an active member have no row to show.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TextIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.bulk.layout import COLUMNS, FILE_COLUMNS, format_cells
from core.foundation import spreadsheet
from core.foundation.enums import MemberStatus, RecordStatus
from core.households.data import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS
from core.models import Household, Member, Region
from core.regions.codes import check_code, within

HOUSEHOLDS = Household.__table__
MEMBERS = Member.__table__
_CHUNK = 2000  # rows fetched at a time


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


class RegionNotFound(ValueError):
    """The region to export does not exist."""


@dataclass(frozen=True, slots=True)
class ExportSummary:
    region: str
    households: int
    rows: int
    seconds: float

    def line(self, target: str) -> str:
        return (
            f"exported {self.households:,} households ({self.rows:,} rows) of region {self.region} to {target} "
            f"in {self.seconds:.1f} s"
        )


class RowSink(Protocol):
    def begin(self) -> None:
        """Start the file: the header row."""

    def write(self, values: tuple[Any, ...]) -> None:
        """One file row from its typed values in layout order."""

    def close(self) -> None:
        """Finish the file."""


class CsvSink:
    """UTF-8, comma-separated, header row first; no cell a spreadsheet would run as a formula."""

    def __init__(self, stream: TextIO) -> None:
        self._writer = spreadsheet.writer(stream)

    def begin(self) -> None:
        self._writer.writerow(FILE_COLUMNS)

    def write(self, values: tuple[Any, ...]) -> None:
        self._writer.writerow(format_cells(values))

    def close(self) -> None:
        pass


def _xlsx_text(sheet: Any, text: str) -> Any:
    """Text as a text cell: never read as a formula, without characters XML cannot hold.

    An XLSX text cell is a string whatever it starts with (``+``, ``-``, ``@`` included); only a
    cell typed as a formula runs, and openpyxl types a string starting with ``=`` as one unless told.
    """
    if ILLEGAL_CHARACTERS_RE.search(text):
        text = ILLEGAL_CHARACTERS_RE.sub("", text)
    if text.startswith("="):
        cell = WriteOnlyCell(sheet, text)
        cell.data_type = "s"
        return cell
    return text


class XlsxSink:
    """One sheet, header row first; numbers as numbers, everything else as the layout's text."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet("households")
        self._kinds = [(column.numeric, column.format) for column in COLUMNS]

    def begin(self) -> None:
        self._sheet.append(list(FILE_COLUMNS))

    def write(self, values: tuple[Any, ...]) -> None:
        sheet = self._sheet
        self._sheet.append(
            [
                value if numeric else _xlsx_text(sheet, text(value))
                for (numeric, text), value in zip(self._kinds, values, strict=True)
            ]
        )

    def close(self) -> None:
        self._book.save(self._path)


async def write_households(engine: AsyncEngine, region: str, sink: RowSink) -> ExportSummary:
    """Stream the households of ``region`` and all below it into ``sink``."""
    started = time.perf_counter()
    check_code(region)
    query = (
        select(
            *(HOUSEHOLDS.c[name] for name in HOUSEHOLD_COLUMNS),
            *(MEMBERS.c[name] for name in MEMBER_COLUMNS),
            HOUSEHOLDS.c.id,
        )
        .join(MEMBERS, and_(MEMBERS.c.household_id == HOUSEHOLDS.c.id, MEMBERS.c.status == MemberStatus.ACTIVE.value))
        .where(within(HOUSEHOLDS.c.village_code, region), HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value)
        .order_by(HOUSEHOLDS.c.village_code, HOUSEHOLDS.c.kk_number, MEMBERS.c.id)
        .execution_options(yield_per=_CHUNK)
    )
    households = rows = 0
    last_id = None
    width = len(FILE_COLUMNS)
    async with engine.connect() as conn:
        if await conn.scalar(select(Region.code).where(Region.code == region)) is None:
            raise RegionNotFound(f"region {region} does not exist; give a Kemendagri code such as 32 or 32.01")
        sink.begin()
        result = await conn.stream(query)
        async for chunk in result.partitions():
            for row in chunk:
                if row[width] != last_id:
                    households += 1
                    last_id = row[width]
                sink.write(tuple(row[:width]))
            rows += len(chunk)
    sink.close()
    return ExportSummary(region=region, households=households, rows=rows, seconds=time.perf_counter() - started)


async def export_households(engine: AsyncEngine, region: str, path: Path, fmt: ExportFormat) -> ExportSummary:
    """Write the region's households to ``path``; the file appears only once it is complete."""
    partial = path.with_name(f".{path.name}.part")
    try:
        if fmt is ExportFormat.XLSX:
            summary = await write_households(engine, region, XlsxSink(partial))
        else:
            with partial.open("w", newline="", encoding="utf-8") as stream:
                summary = await write_households(engine, region, CsvSink(stream))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return summary
