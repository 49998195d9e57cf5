"""``siks import households``: refusing bad files whole, rejecting bad households, resuming."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from core.bulk import importer
from core.bulk.claims import Claims
from core.bulk.importer import ImportInterrupted, ImportOptions, ImportSummary, import_households
from core.bulk.layout import FILE_COLUMNS
from core.bulk.sources import FileRefused
from core.bulk.validation import Candidate, CheckContext
from core.bulk.workers import CheckingPool, WorkerFailed
from core.cli import app
from core.foundation.enums import Relationship, Sex
from core.households.data import HouseholdData, MemberData
from core.models import AuditEntry, Household, Member
from tests import factories
from tests.bulk_files import (
    IMPORTER,
    counts,
    file_rows,
    for_household,
    numbered_households,
    read_report,
    with_cell,
    write_csv,
    write_households,
    write_xlsx,
)

IN_PROCESS = ImportOptions(workers=0)


def set_cell(column: str, value: str) -> Callable[[list[str]], None]:
    def change(row: list[str]) -> None:
        row[FILE_COLUMNS.index(column)] = value

    return change


async def run(engine: AsyncEngine, path: Path, options: ImportOptions = IN_PROCESS) -> ImportSummary:
    return await import_households(engine, path, request=IMPORTER, options=options)


async def refused(engine: AsyncEngine, path: Path) -> str:
    """The refusal message; asserts that nothing was written, not even the error report."""
    with pytest.raises(FileRefused) as caught:
        await run(engine, path)
    assert await counts(engine) == (0, 0)
    assert not path.with_name(f"{path.stem}.errors.csv").exists()
    return str(caught.value)


def test_the_layout_page_lists_every_column_and_coded_value() -> None:
    page = (Path(__file__).parent.parent / "docs" / "import-format.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `"): line for line in page.splitlines() if line.startswith("| `")}
    assert list(rows) == list(FILE_COLUMNS)
    kinds = {**get_type_hints(HouseholdData), **get_type_hints(MemberData)}
    for name in FILE_COLUMNS:
        kind = kinds[name]
        if isinstance(kind, type) and issubclass(kind, StrEnum):
            listed = rows[name].split("|")[3].split(" — ")[0]
            assert [value.strip(" `") for value in listed.split(",")] == [member.value for member in kind], name


# Loading


async def test_loads_households_with_their_members_as_written(db: AsyncEngine, tmp_path: Path) -> None:
    households = [factories.household(), factories.household(latitude=None, longitude=None, has_land=True)]
    summary = await run(db, write_households(tmp_path / "h.csv", households))

    assert (summary.loaded, summary.present, summary.rejected, summary.rows, summary.errors) == (2, 0, 0, 6, 0)
    assert await counts(db) == (2, 6)
    async with db.connect() as conn:
        stored = (
            await conn.execute(
                select(Household.latitude, Household.floor_material, Household.has_land, Household.status).where(
                    Household.kk_number == households[1].kk_number
                )
            )
        ).one()
        child = (
            await conn.execute(
                select(Member.birth_date, Member.in_school, Member.education, Member.household_id).where(
                    Member.nik == households[0].members[2].nik
                )
            )
        ).one()
    assert tuple(stored) == (None, "cement_brick", True, "active")
    assert (child.birth_date, child.in_school, child.education) == (date(2015, 8, 30), True, "primary")
    assert read_report(summary.report) == []
    assert "loaded 2 households, 0 already present, 0 rejected; 6 rows" in summary.line()


async def test_columns_may_come_in_any_order_and_case(db: AsyncEngine, tmp_path: Path) -> None:
    rows = file_rows([factories.household()])
    order = list(reversed(range(len(FILE_COLUMNS))))
    header = [FILE_COLUMNS[i].upper() for i in order]
    path = write_csv(tmp_path / "h.csv", [[row[i] for i in order] for row in rows], header=header)

    assert (await run(db, path)).loaded == 1


async def test_coded_values_and_yes_no_cells_are_read_leniently(db: AsyncEngine, tmp_path: Path) -> None:
    rows = file_rows([factories.household()])
    rows = with_cell(rows, 0, "floor_material", " Cement_Brick ")
    rows = with_cell(rows, 0, "in_school", "tidak")
    rows = with_cell(rows, 2, "in_school", "YA")
    rows = for_household(rows, rows[0][0], set_cell("has_car", "1"))

    assert (await run(db, write_csv(tmp_path / "h.csv", rows))).loaded == 1
    async with db.connect() as conn:
        assert (await conn.execute(select(Household.floor_material, Household.has_car))).one() == ("cement_brick", True)


async def test_blank_rows_are_skipped_but_keep_row_numbers(db: AsyncEngine, tmp_path: Path) -> None:
    good, bad = factories.household(), factories.household()
    rows = file_rows([good]) + [[""] * len(FILE_COLUMNS)] + with_cell(file_rows([bad]), 1, "sex", "x")
    summary = await run(db, write_csv(tmp_path / "h.csv", rows))

    assert (summary.loaded, summary.rejected, summary.rows) == (1, 1, 6)
    assert [(row, field) for row, field, _ in read_report(summary.report)] == [(7, "sex")]


# Refusing the whole file


async def test_refuses_missing_unknown_and_repeated_columns(db: AsyncEngine, tmp_path: Path) -> None:
    rows = file_rows([factories.household()])
    header = [*FILE_COLUMNS[:-1], "pregnant_woman"]
    message = await refused(db, write_csv(tmp_path / "h.csv", rows, header=header))
    assert "missing columns: pregnant" in message
    assert "unknown columns: pregnant_woman" in message

    header = [*FILE_COLUMNS[:-1], "nik"]
    message = await refused(db, write_csv(tmp_path / "h.csv", rows, header=header))
    assert "repeated columns: nik" in message


async def test_refuses_text_that_is_not_utf8_naming_the_line(db: AsyncEngine, tmp_path: Path) -> None:
    rows = file_rows([factories.household(members=[factories.member(name="Siti Aminah")])])
    rows += file_rows([factories.household(members=[factories.member(name="Ujang Dédé")])])
    path = tmp_path / "h.csv"
    path.write_bytes(write_csv(tmp_path / "utf8.csv", rows).read_text(encoding="utf-8").encode("latin-1"))

    message = await refused(db, path)
    assert "not UTF-8" in message
    assert "line 3" in message


async def test_refuses_utf16_text(db: AsyncEngine, tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(",".join(FILE_COLUMNS) + "\n", encoding="utf-16")
    assert "UTF-16" in await refused(db, path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        (",".join(FILE_COLUMNS) + "\n", "has a header row but no data rows"),
        (",".join(FILE_COLUMNS) + "\n,,,\n\n", "has a header row but no data rows"),
        (";".join(FILE_COLUMNS) + "\n1;2\n", "separates columns with ';'"),
    ],
)
async def test_refuses_files_without_rows_or_commas(
    db: AsyncEngine, tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "h.csv"
    path.write_text(content, encoding="utf-8")
    assert expected in await refused(db, path)


async def test_refuses_xlsx_holding_a_formula_naming_the_cell(db: AsyncEngine, tmp_path: Path) -> None:
    rows = file_rows([factories.household(), factories.household(), factories.household(), factories.household()])
    rows = with_cell(rows, 10, "address", '=CONCAT("Jl. ", "Melati")')  # row 12 of the sheet, column C
    rows = with_cell(rows, 10, "rw", "=1+6")  # column E
    message = await refused(db, write_xlsx(tmp_path / "h.xlsx", rows))
    assert message == "h.xlsx: sheet Sheet1 cell C12 holds a formula; export values only"


async def test_refuses_a_damaged_or_empty_workbook(db: AsyncEngine, tmp_path: Path) -> None:
    path = tmp_path / "h.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not a workbook")
    assert "is not a readable XLSX workbook" in await refused(db, path)

    path = write_xlsx(tmp_path / "header.xlsx", [])
    assert "has a header row but no data rows" in await refused(db, path)


async def test_refuses_other_file_types(db: AsyncEngine, tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_text("{}")
    assert "give a .csv (UTF-8) or .xlsx file" in await refused(db, path)


# Rejecting bad households, loading the rest


async def test_a_bad_row_leaves_its_household_out_whole(db: AsyncEngine, tmp_path: Path) -> None:
    first, second, third = factories.household(), factories.household(), factories.household()
    rows = file_rows([first, second, third])
    rows = with_cell(rows, 4, "sex", "laki-laki")  # file row 6: second household, second member
    rows = with_cell(rows, 4, "birth_date", "17/05/1980")
    summary = await run(db, write_csv(tmp_path / "h.csv", rows))

    assert (summary.loaded, summary.rejected, summary.rejected_rows, summary.errors) == (2, 1, 3, 2)
    assert await counts(db) == (2, 6)
    assert read_report(summary.report) == [
        (6, "birth_date", "'17/05/1980' is not a date in the form YYYY-MM-DD"),
        (6, "sex", "'laki-laki' is not one of: male, female"),
    ]
    assert "1 rejected (3 rows; 2 errors listed in" in summary.line()


async def test_household_rules_are_reported_on_the_right_row_and_column(db: AsyncEngine, tmp_path: Path) -> None:
    households = [factories.household() for _ in range(6)]  # rows 2-4, 5-7, 8-10, 11-13, 14-16, 17-19
    rows = file_rows(households)
    rows = for_household(rows, households[0].kk_number, set_cell("village_code", "32.01.01.9999"))
    rows = with_cell(rows, 4, "nik", households[1].members[1].nik[:6] + "410101" + "0001")  # a woman born 01-01-01
    rows = with_cell(rows, 6, "relationship", "child")  # the third household loses its head...
    rows = with_cell(rows, 6, "pregnant", "true")  # ...who is a man
    rows = for_household(rows, households[3].kk_number, set_cell("floor_area", "36,5"))
    rows = with_cell(rows, 13, "address", "Jl. Mawar No. 1")  # row 15 disagrees with row 14
    summary = await run(db, write_csv(tmp_path / "h.csv", rows))

    assert (summary.loaded, summary.rejected) == (1, 5)
    report = read_report(summary.report)
    assert report[0] == (2, "village_code", "village 32.01.01.9999 does not exist")
    assert [(row, field) for row, field, _ in report[1:]] == [
        (6, "nik"),
        (8, "pregnant"),
        (8, "relationship"),
        (11, "floor_area"),
        (15, "address"),
    ]
    assert "does not match birth date 1983-02-09" in report[1][2]
    assert report[2][2] == "only a female member can be pregnant"
    assert report[3][2] == "the household has no head (one member must have relationship HEAD)"
    assert report[4][2] == "'36,5' is not a number; use a dot as the decimal separator"
    assert report[5][2] == (
        "differs from row 14, this household's first row; household columns must be the same on all its rows"
    )
    assert await counts(db) == (1, 3)


async def test_rows_with_missing_cells_are_rejected(db: AsyncEngine, tmp_path: Path) -> None:
    rows = file_rows([factories.household(), factories.household()])
    rows[3] = rows[3][:-2]
    summary = await run(db, write_csv(tmp_path / "h.csv", rows))

    assert (summary.loaded, summary.rejected) == (1, 1)
    assert read_report(summary.report) == [(5, "columns", "the row has 34 cells; the header has 36")]


async def test_rows_that_are_not_csv_are_rejected(db: AsyncEngine, tmp_path: Path) -> None:
    path = write_households(tmp_path / "h.csv", [factories.household(), factories.household(), factories.household()])
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = lines[2].replace("Jl. Melati No. 5", "x" * 200_000, 1)  # over the csv module's cell limit
    lines[-1] = lines[-1].replace("Jl. Melati", '"Jl. Melati', 1)  # a quote never closed, at the end of the file
    path.write_text("".join(lines), encoding="utf-8")
    summary = await run(db, path)

    assert (summary.loaded, summary.rejected) == (1, 2)
    assert read_report(summary.report) == [
        (3, "columns", "the row is not valid CSV (field larger than field limit (131072))"),
        (10, "columns", "the row has 3 cells; the header has 36"),
    ]


async def test_nik_active_in_a_registered_household_is_rejected(db: AsyncEngine, tmp_path: Path) -> None:
    registered = factories.household()
    await run(db, write_households(tmp_path / "first.csv", [registered]))
    mover = factories.household(members=[registered.members[0]])
    summary = await run(db, write_households(tmp_path / "second.csv", [mover, factories.household()]))

    assert (summary.loaded, summary.rejected) == (1, 1)
    assert read_report(summary.report) == [
        (2, "nik", f"NIK {registered.members[0].nik} is already active in another household; remove it there first")
    ]
    assert await counts(db) == (2, 6)


@pytest.mark.parametrize("batch", [100, 1])
async def test_nik_repeated_across_households_of_the_file(db: AsyncEngine, tmp_path: Path, batch: int) -> None:
    first = factories.household()
    twin = factories.member(Relationship.HEAD, Sex.MALE)
    second = factories.household(members=[twin, factories.member(Relationship.CHILD, Sex.FEMALE, date(2001, 3, 3))])
    second.members[1].nik = first.members[2].nik  # the child is listed in both households
    second.members[1].birth_date = first.members[2].birth_date
    summary = await run(
        db, write_households(tmp_path / "h.csv", [first, second]), ImportOptions(workers=0, batch_households=batch)
    )

    assert (summary.loaded, summary.rejected) == (1, 1)
    [(row, field, reason)] = read_report(summary.report)
    assert (row, field) == (6, "nik")
    if batch == 1:  # the first household was committed before the second was checked
        assert "already active in another household" in reason
    else:
        assert (
            reason == f"NIK {first.members[2].nik} is also a member of the household with KK {first.kk_number} at row 4"
        )


async def test_kk_registered_with_other_data_is_rejected_not_updated(db: AsyncEngine, tmp_path: Path) -> None:
    household = factories.household()
    await run(db, write_households(tmp_path / "h.csv", [household]))
    household.address = "Jl. Kenanga No. 9"
    summary = await run(db, write_households(tmp_path / "h.csv", [household]))

    assert (summary.loaded, summary.present, summary.rejected) == (0, 0, 1)
    assert read_report(summary.report) == [
        (
            2,
            "kk_number",
            f"KK number {household.kk_number} is already registered with other data; "
            "change that household through the API",
        )
    ]
    async with db.connect() as conn:
        assert await conn.scalar(select(Household.address)) == "Jl. Melati No. 5"


async def test_kk_repeated_apart_in_the_file_is_rejected(db: AsyncEngine, tmp_path: Path) -> None:
    first, other = factories.household(), factories.household()
    again = factories.household(kk_number=first.kk_number)
    summary = await run(db, write_households(tmp_path / "h.csv", [first, other, again]))

    assert (summary.loaded, summary.rejected) == (2, 1)
    assert read_report(summary.report) == [
        (
            8,
            "kk_number",
            f"KK number {first.kk_number} is also the household at row 2; keep a household's rows together",
        )
    ]


async def test_a_rerun_skips_what_is_present_and_changes_nothing(db: AsyncEngine, tmp_path: Path) -> None:
    households = [factories.household() for _ in range(4)]
    path = write_households(tmp_path / "h.csv", households)
    await run(db, path, ImportOptions(workers=0, batch_households=3))
    async with db.connect() as conn:
        before = (await conn.execute(select(Member.id, Member.nik, Member.updated_at).order_by(Member.id))).all()

    summary = await run(db, path, ImportOptions(workers=0, batch_households=3))

    assert (summary.loaded, summary.present, summary.rejected, summary.errors) == (0, 4, 0, 0)
    async with db.connect() as conn:
        after = (await conn.execute(select(Member.id, Member.nik, Member.updated_at).order_by(Member.id))).all()
    assert after == before


async def test_worker_processes_check_batches_in_order(db: AsyncEngine, tmp_path: Path) -> None:
    households = numbered_households(40)
    rows = with_cell(file_rows(households), 31, "sex", "?")  # file row 33: household 11
    summary = await run(db, write_csv(tmp_path / "h.csv", rows), ImportOptions(workers=2, batch_households=3))

    assert (summary.loaded, summary.rejected, summary.rows) == (39, 1, 120)
    assert [(row, field) for row, field, _ in read_report(summary.report)] == [(33, "sex")]
    assert await counts(db) == (39, 117)


async def test_a_failing_or_vanished_worker_fails_its_batches() -> None:
    broken = CheckContext(frozenset(), date.today(), positions=(99,) * len(FILE_COLUMNS), width=2, text_records=True)
    async with CheckingPool(2, broken) as pool:
        with pytest.raises(WorkerFailed, match="IndexError"):  # the check itself raised in the worker
            await pool.submit([(2, ["a,b\n"])])
        pool._workers[1].process.kill()
        with pytest.raises(WorkerFailed, match="stopped"):
            await pool.submit([(2, ["a,b\n"])])


async def test_xlsx_with_typed_cells_is_read(db: AsyncEngine, tmp_path: Path) -> None:
    household = factories.household(livestock_count=3)
    typed: list[list[object]] = []
    for row in file_rows([household]):
        cells: list[object] = list(row)
        cells[FILE_COLUMNS.index("floor_area")] = 36  # a number cell
        cells[FILE_COLUMNS.index("livestock_count")] = 3.0
        cells[FILE_COLUMNS.index("latitude")] = -6.48
        cells[FILE_COLUMNS.index("has_car")] = False  # an Excel boolean
        cells[FILE_COLUMNS.index("birth_date")] = date.fromisoformat(row[FILE_COLUMNS.index("birth_date")])
        typed.append(cells)
    summary = await run(db, write_xlsx(tmp_path / "h.xlsx", typed))

    assert (summary.loaded, summary.rejected) == (1, 0), read_report(summary.report)
    async with db.connect() as conn:
        assert (await conn.execute(select(Household.floor_area, Household.livestock_count))).one() == (36.0, 3)


async def test_a_batch_raced_by_another_writer_stops_the_import(
    db: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_households(tmp_path / "h.csv", [factories.household(), factories.household()])
    await run(db, path)

    async def claim_everything(conn: object, candidates: list[Candidate]) -> Claims:
        return Claims(loadable=list(candidates))  # as if another process registered them after the checks

    monkeypatch.setattr(importer, "claim", claim_everything)
    with pytest.raises(ImportInterrupted, match=r"rows 2-7 were not loaded: another process registered"):
        await run(db, path)
    assert await counts(db) == (2, 6)


async def test_refuses_to_start_when_the_error_report_cannot_be_written(db: AsyncEngine, tmp_path: Path) -> None:
    path = write_households(tmp_path / "h.csv", [factories.household()])
    with pytest.raises(FileRefused, match="cannot write the error report"):
        await import_households(
            db, path, request=IMPORTER, report_path=tmp_path / "missing" / "errors.csv", options=IN_PROCESS
        )
    assert await counts(db) == (0, 0)


# The command line


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


async def test_cli_reports_a_summary_and_exits_zero_with_rejected_rows(db: AsyncEngine, tmp_path: Path) -> None:
    rows = file_rows([factories.household(), factories.household()])
    rows = for_household(rows, rows[0][0], set_cell("toilet", "outside"))
    path = write_csv(tmp_path / "h.csv", rows)
    report = tmp_path / "report.csv"
    code, out, err = await asyncio.to_thread(invoke, "import", "households", str(path), "--errors", str(report))

    assert code == 0, err
    assert "loaded 1 households, 0 already present, 1 rejected (3 rows; 1 errors listed in" in out
    assert "6/6" in err  # the progress bar
    assert [(r, f) for r, f, _ in read_report(report)] == [(2, "toilet")]


async def test_cli_refuses_a_file_with_exit_code_2(db: AsyncEngine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", [], header=FILE_COLUMNS[:-1])
    code, _, err = await asyncio.to_thread(invoke, "import", "households", str(path), "--no-progress")

    assert code == 2
    assert "missing columns: pregnant" in err and "nothing was loaded" in err
    assert await counts(db) == (0, 0)


# Killed midway, then run again


def _siks() -> list[str]:
    found = shutil.which("siks", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "core.cli"]


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:  # the process ended meanwhile
            continue
        if int(fields.get("PPid", "0")) == pid:
            found.add(int(status.parent.name))
    return found


@pytest.mark.parametrize("workers", [0, 2])
async def test_an_import_killed_midway_resumes_without_duplicates(
    db: AsyncEngine, tmp_path: Path, workers: int
) -> None:
    total, batch = 3000, 20
    path = write_households(tmp_path / "h.csv", numbered_households(total))
    command = [
        *_siks(),
        "import",
        "households",
        str(path),
        "--batch-size",
        str(batch),
        "--workers",
        str(workers),
        "--no-progress",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 120
        loaded = 0
        while loaded < 10 * batch and process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            loaded = (await counts(db))[0]
        assert process.poll() is None, "the import ended before it could be killed"
        helpers = _children(process.pid) if Path("/proc").is_dir() else set()
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert len(helpers) >= workers
    deadline = time.monotonic() + 20
    while helpers and time.monotonic() < deadline:  # the checking workers end with the importer
        await asyncio.sleep(0.1)
        helpers = {pid for pid in helpers if _running(pid)}
    assert not helpers, f"processes left running after the importer was killed: {helpers}"

    committed, members = await counts(db)
    assert 0 < committed < total
    assert committed % batch == 0, "a killed import leaves whole batches only"
    assert members == 3 * committed

    rerun = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"loaded {total - committed:,} households, {committed:,} already present, 0 rejected" in rerun.stdout
    assert await counts(db) == (total, 3 * total)
    async with db.connect() as conn:
        assert await conn.scalar(select(func.count(func.distinct(Household.kk_number)))) == total
        assert await conn.scalar(select(func.count(func.distinct(Member.nik)))) == 3 * total
        orphans = await conn.scalar(
            text(
                "SELECT count(*) FROM households h "
                "WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.household_id = h.id)"
            )
        )
    assert orphans == 0


async def _batch_audit_rows(engine: AsyncEngine, path: Path) -> list[dict[str, Any]]:
    """The ``after`` images of the batch audit rows of imports of ``path``, in log order."""
    async with engine.connect() as conn:
        images = await conn.scalars(
            select(AuditEntry.after).where(AuditEntry.operation == "importHouseholdsBatch").order_by(AuditEntry.seq)
        )
        return [after for after in map(json.loads, images) if after["file"] == str(path)]


async def _household_ids(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        return list(await conn.scalars(select(Household.id)))


def _covered(household_ids: list[int], batches: list[dict[str, Any]]) -> bool:
    """Every household id lies in the id range of an audited batch."""
    ranges = [tuple(batch["household_ids"]) for batch in batches]
    return all(any(low <= id_ <= high for low, high in ranges) for id_ in household_ids)


async def test_finding_12a_a_killed_import_leaves_an_audit_row_for_every_committed_batch(
    db: AsyncEngine, tmp_path: Path
) -> None:
    total, batch = 3000, 20
    path = write_households(tmp_path / "h.csv", numbered_households(total))
    command = [*_siks(), "import", "households", str(path), "--batch-size", str(batch), "--workers", "0"]
    process = subprocess.Popen([*command, "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while (await counts(db))[0] == 0 and process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # killed as soon as its first batch is committed
        assert process.poll() is None, "the import ended before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL

    committed = await _household_ids(db)
    audited = await _batch_audit_rows(db, path)
    assert 0 < len(committed) < total
    assert sum(row["loaded"] for row in audited) == len(committed), "a committed batch has no audit row"
    assert _covered(committed, audited)
    run = audited[0]["run"]
    assert [row["batch"] for row in audited] == list(range(1, len(audited) + 1))
    assert {row["run"] for row in audited} == {run}
    # Three rows a household, after the header: batch n holds rows 2 + 60(n - 1) to 61 + 60(n - 1).
    assert [row["rows"] for row in audited] == [[2 + 60 * n, 61 + 60 * n] for n in range(len(audited))]
    assert all((row["present"], row["rejected"]) == (0, 0) for row in audited)
    async with db.connect() as conn:
        ends = await conn.scalar(select(func.count()).where(AuditEntry.entity_id == run))
    assert ends == 0, "the killed run has no summary row"
    verified = await asyncio.to_thread(invoke, "audit", "verify")
    assert verified[0] == 0, verified

    rerun = await asyncio.to_thread(invoke, *command[len(_siks()) :], "--no-progress")
    assert rerun[0] == 0, rerun
    everything = await _household_ids(db)
    audited = await _batch_audit_rows(db, path)
    assert len(everything) == total
    assert sum(row["loaded"] for row in audited) == total
    assert _covered(everything, audited)
    async with db.connect() as conn:
        (summary,) = await conn.scalars(
            select(AuditEntry.after).where(
                AuditEntry.operation == "importHouseholds", AuditEntry.entity_id == audited[-1]["run"]
            )
        )
    assert json.loads(summary)["loaded"] == total - len(committed)
    assert json.loads(summary)["present"] == len(committed)
    verified = await asyncio.to_thread(invoke, "audit", "verify")
    assert verified[0] == 0, verified


def _running(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
