"""Household files for the import and export tests."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path

import openpyxl
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import RequestInfo
from core.auth.principal import Principal
from core.bulk.layout import FILE_COLUMNS, household_rows
from core.foundation.enums import Education, Relationship, Sex
from core.households.data import HouseholdData, MemberData
from core.households.identity import make_nik
from core.models import Household, Member
from tests import factories

Row = list[str]
#: Who loads files in the tests, as the audit log records it.
IMPORTER = RequestInfo(Principal("test-importer", "data_centre", ""), client="test")


def file_rows(households: Iterable[HouseholdData]) -> list[Row]:
    return [row for data in households for row in household_rows(data)]


def write_csv(path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = FILE_COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_households(path: Path, households: Iterable[HouseholdData]) -> Path:
    return write_csv(path, file_rows(households))


def write_xlsx(path: Path, rows: Sequence[Sequence[object]], header: Sequence[str] = FILE_COLUMNS) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"  # as Excel names it
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def with_cell(rows: list[Row], row_index: int, column: str, value: str) -> list[Row]:
    """A copy of ``rows`` with one cell changed (``row_index`` counts data rows from 0)."""
    changed = [list(row) for row in rows]
    changed[row_index][FILE_COLUMNS.index(column)] = value
    return changed


def for_household(rows: list[Row], kk: str, change: Callable[[Row], None]) -> list[Row]:
    changed = [list(row) for row in rows]
    for row in changed:
        if row[0] == kk:
            change(row)
    return changed


def numbered_households(count: int, village: str = factories.VILLAGE) -> list[HouseholdData]:
    """``count`` valid three-member households whose KK numbers and NIKs never repeat.

    Birth dates advance a day per household (and stay clear of the factories' dates), so NIKs
    stay unique for thousands of households.
    """
    district = village.rsplit(".", 1)[0]
    digits = district.replace(".", "")
    households = []
    for index in range(count):
        head = date(1940, 1, 1) + timedelta(days=index)
        spouse = date(1950, 1, 1) + timedelta(days=index)
        child = date(1990, 1, 1) + timedelta(days=index)
        members = [
            MemberData(make_nik(district, head, Sex.MALE, 7), "Agus Salim", Sex.MALE, head, Relationship.HEAD),
            MemberData(
                make_nik(district, spouse, Sex.FEMALE, 7), "Dewi Sartika", Sex.FEMALE, spouse, Relationship.SPOUSE
            ),
            MemberData(
                make_nik(district, child, Sex.FEMALE, 7),
                "Rina Wati",
                Sex.FEMALE,
                child,
                Relationship.CHILD,
                education=Education.SENIOR_HIGH,
            ),
        ]
        households.append(factories.household(village, members, kk_number=f"{digits}{9_000_000_000 + index:010d}"))
    return households


async def counts(engine: AsyncEngine) -> tuple[int, int]:
    """Households and members in the database."""
    async with engine.connect() as conn:
        households = await conn.scalar(select(func.count()).select_from(Household))
        members = await conn.scalar(select(func.count()).select_from(Member))
    return households or 0, members or 0


def read_report(path: Path) -> list[tuple[int, str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        assert next(reader) == ["row", "field", "reason"]
        return [(int(row), field, reason) for row, field, reason in reader]
