"""``siks export households``: a region's households in the import layout, round-tripping."""

from __future__ import annotations

import asyncio
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from core.bulk.exporter import ExportFormat, RegionNotFound, export_households
from core.bulk.importer import ImportOptions, import_households
from core.bulk.layout import FILE_COLUMNS
from core.cli import app
from core.households.data import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS
from core.models import Household, Member
from core.regions.codes import RegionCodeError
from tests import factories
from tests.bulk_files import IMPORTER, counts, file_rows, write_csv, write_households

SECOND_VILLAGE = "32.01.01.1002"  # also in Cibinong


async def imported(engine: AsyncEngine, path: Path) -> None:
    summary = await import_households(engine, path, request=IMPORTER, options=ImportOptions(workers=0))
    assert summary.rejected == 0 and summary.loaded > 0, summary.line()


async def registry(engine: AsyncEngine) -> set[tuple[object, ...]]:
    """Every household column and active member, without ids or timestamps."""
    query = (
        select(*(Household.__table__.c[n] for n in HOUSEHOLD_COLUMNS), *(Member.__table__.c[n] for n in MEMBER_COLUMNS))
        .join(Member)
        .where(Member.status == "active")
    )
    async with engine.connect() as conn:
        return {tuple(row) for row in await conn.execute(query)}


def sorted_rows(rows: list[list[str]]) -> list[list[str]]:
    """File rows in export order: village, KK, then the members as registered (stable)."""
    village, kk = FILE_COLUMNS.index("village_code"), FILE_COLUMNS.index("kk_number")
    return sorted(rows, key=lambda row: (row[village], row[kk]))


@pytest.fixture
async def population(db: AsyncEngine, tmp_path: Path) -> list[list[str]]:
    """Households in three villages of two provinces, loaded out of export order; their file rows."""
    households = [
        factories.household(SECOND_VILLAGE),
        factories.household(factories.OTHER_VILLAGE),
        factories.household(),
        factories.household(latitude=None, longitude=None, address='Gg. "Kenari", No. 3'),
        factories.household(SECOND_VILLAGE, has_gold=True, livestock_count=4, floor_area=27.5),
    ]
    await imported(db, write_households(tmp_path / "source.csv", households))
    return file_rows(households)


async def test_csv_export_is_the_import_layout_in_village_and_kk_order(
    db: AsyncEngine, tmp_path: Path, population: list[list[str]]
) -> None:
    path = tmp_path / "out.csv"
    summary = await export_households(db, "32", path, ExportFormat.CSV)

    in_32 = [row for row in population if row[1].startswith("32.")]
    assert (summary.households, summary.rows) == (4, 12)
    expected = write_csv(tmp_path / "expected.csv", sorted_rows(in_32))
    assert path.read_text(encoding="utf-8") == expected.read_text(encoding="utf-8")


async def test_export_then_import_round_trips(db: AsyncEngine, tmp_path: Path, population: list[list[str]]) -> None:
    before = await registry(db)
    for fmt in ExportFormat:
        path = tmp_path / f"all.{fmt.value}"
        await export_households(db, "32", path, fmt)
        other = tmp_path / f"jatim.{fmt.value}"
        await export_households(db, "35", other, fmt)
        async with db.begin() as conn:
            await conn.execute(Member.__table__.delete())
            await conn.execute(Household.__table__.delete())

        await imported(db, path)
        await imported(db, other)

        assert await registry(db) == before
        again = await import_households(db, path, request=IMPORTER, options=ImportOptions(workers=0))
        assert (again.loaded, again.present, again.rejected) == (0, 4, 0)


async def test_xlsx_export_keeps_numbers_as_numbers_and_codes_as_text(
    db: AsyncEngine, tmp_path: Path, population: list[list[str]]
) -> None:
    path = tmp_path / "out.xlsx"
    await export_households(db, "32.01.01.1002", path, ExportFormat.XLSX)

    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert list(header) == list(FILE_COLUMNS)
    assert len(rows) == 6
    first = dict(zip(FILE_COLUMNS, rows[0], strict=True))
    assert (first["floor_area"], first["latitude"], first["livestock_count"]) == (36, -6.48, 0)  # number cells
    assert isinstance(first["nik"], str) and len(first["nik"]) == 16
    assert first["birth_date"] in {"1980-05-17", "1983-02-09", "2015-08-30"}
    assert first["has_car"] == "false"


async def test_only_active_households_and_members_are_exported(
    db: AsyncEngine, tmp_path: Path, population: list[list[str]]
) -> None:
    gone_member = population[0][FILE_COLUMNS.index("nik")]
    gone_household = population[6][0]
    async with db.begin() as conn:
        await conn.execute(update(Member).where(Member.nik == gone_member).values(status="deceased"))
        await conn.execute(update(Household).where(Household.kk_number == gone_household).values(status="inactive"))
    path = tmp_path / "out.csv"
    summary = await export_households(db, "32.01", path, ExportFormat.CSV)

    text = path.read_text(encoding="utf-8")
    assert (summary.households, summary.rows) == (3, 8)
    assert gone_member not in text and gone_household not in text


async def test_a_region_below_a_province_exports_only_its_villages(
    db: AsyncEngine, tmp_path: Path, population: list[list[str]]
) -> None:
    summary = await export_households(db, "32.01.01.1001", tmp_path / "v.csv", ExportFormat.CSV)
    assert summary.households == 2
    summary = await export_households(db, "35.78", tmp_path / "sby.csv", ExportFormat.CSV)
    assert summary.households == 1
    summary = await export_households(db, "33", tmp_path / "jateng.csv", ExportFormat.CSV)
    assert (summary.households, (tmp_path / "jateng.csv").read_text().splitlines()) == (0, [",".join(FILE_COLUMNS)])


async def test_unknown_or_malformed_regions_write_no_file(db: AsyncEngine, tmp_path: Path) -> None:
    with pytest.raises(RegionNotFound, match="region 99 does not exist"):
        await export_households(db, "99", tmp_path / "x.csv", ExportFormat.CSV)
    with pytest.raises(RegionCodeError):
        await export_households(db, "3201", tmp_path / "x.xlsx", ExportFormat.XLSX)
    assert list(tmp_path.iterdir()) == []


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


async def test_cli_writes_csv_to_stdout_or_a_file(db: AsyncEngine, tmp_path: Path, population: list[list[str]]) -> None:
    code, out, err = await asyncio.to_thread(invoke, "export", "households", "--region", "35")
    assert code == 0, err
    assert out.splitlines()[0] == ",".join(FILE_COLUMNS)
    assert len(out.splitlines()) == 4
    assert "exported 1 households (3 rows) of region 35 to stdout" in err

    path = tmp_path / "out.xlsx"
    code, _, err = await asyncio.to_thread(invoke, "export", "households", "--region", "32", "--output", str(path))
    assert code == 0, err
    assert len(list(openpyxl.load_workbook(path, read_only=True).worksheets[0].iter_rows())) == 13


async def test_cli_refuses_unknown_regions_and_xlsx_to_stdout(db: AsyncEngine) -> None:
    code, out, err = await asyncio.to_thread(invoke, "export", "households", "--region", "99")
    assert (code, out) == (2, "")
    assert "region 99 does not exist" in err
    code, _, err = await asyncio.to_thread(invoke, "export", "households", "--region", "32", "--format", "xlsx")
    assert code == 2 and "an XLSX export needs --output FILE" in err
    assert await counts(db) == (0, 0)
