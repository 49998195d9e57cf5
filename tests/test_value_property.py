"""Property: any household value, through any way in, is stored and read back as given or refused by its field.

Generated values (huge integers, control characters, other scripts' digits, long strings, unicode
names, formula-looking text, lone surrogates where the way in can carry them) replace one field
of an otherwise valid household, which then goes through the GraphQL API (``registerHousehold``,
``updateHousehold``, ``updateMember``), the CSV and XLSX import and the offline import. Each time
either the value is stored and reads back as given (a file's text cells without their surrounding
spaces, as documented), or the answer names exactly that field, with no traceback and nothing
written. Example counts stay small so that the file runs in well under 30 s a database.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.bulk.layout import FILE_COLUMNS
from core.foundation.settings import Settings
from core.foundation.spreadsheet import restored
from core.households.data import HouseholdData
from core.households.rules import camel
from core.models import PROPOSED_HOUSEHOLDS, PROPOSED_MEMBERS
from core.offline.importing import import_package
from core.offline.package import PackageRefused
from core.storage.records import HOUSEHOLDS, MEMBERS
from core.verification.storage import folder_store
from tests import factories
from tests.bulk_files import file_rows, read_report, write_csv
from tests.test_bulk_import import run as import_run
from tests.test_offline import (  # noqa: F401  (fixtures: field, photo_dir)
    OFFICER,
    Field,
    add_proposal,
    export,
    field,
    photo_dir,
)
from tests.test_schema_households import store
from tests.test_schema_mutations import CHANGE_MEMBER, REGISTER, UPDATE

SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FILE_SETTINGS = settings(SETTINGS, max_examples=12)  # an import reads the whole region list: ~0.3 s each
INT32 = (-(2**31), 2**31 - 1)

TEXT = st.one_of(
    st.text(max_size=40),  # any character but lone surrogates: controls, other scripts, emoji
    st.text(st.characters(max_codepoint=0xA0), max_size=12),  # ASCII with C0/C1 controls and DEL, often
    st.text(st.characters(categories=["L", "M", "Zs"]), min_size=110, max_size=260),  # around the widths
    st.sampled_from(['=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "-", "@SUM(1)", "'=x", " Siti ", "Ma'ruf"]),
    st.sampled_from(["Nguyễn Thị Ánh", "姓名", "Ахмад", "😀 Budi", "Jl. Melati\u202e", "a\u2028b", "\u3000"]),
)
DIGITS = st.text(st.characters(categories=["Nd"]), min_size=1, max_size=4)  # ٣, ३, ７ ... as well as 0-9
WHOLE = st.one_of(
    st.integers(-(10**25), 10**25),
    st.sampled_from([0, 100_000, 100_001, -1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 99999999999999999999]),
)
DECIMAL = st.floats(allow_nan=False, allow_infinity=False)

HOUSEHOLD_VALUES = st.one_of(
    st.tuples(st.just("address"), TEXT),
    st.tuples(st.just("rt"), DIGITS | TEXT),
    st.tuples(st.just("livestock_count"), WHOLE),
    st.tuples(st.just("floor_area"), DECIMAL),
)
VALUES = HOUSEHOLD_VALUES | st.tuples(st.just("name"), TEXT)
WITH_SURROGATES = st.tuples(st.sampled_from(["address", "name"]), st.text(st.characters(categories=["Cs", "L"])))

FINDINGS = [  # the attacker's values, run every time
    ("livestock_count", 99999999999999999999),
    ("livestock_count", 3_000_000_000),
    ("name", "Siti\x00Aminah"),
    ("rt", "1\u0663"),
    ("name", '=HYPERLINK("http://evil.example","klik")'),
    ("address", "J" * 201),
]


def with_findings(test: Any) -> Any:
    for name, value in FINDINGS:
        test = example(change=(name, value))(test)
    return test


@dataclass(frozen=True, slots=True)
class Case:
    """A valid household with one value replaced: where it sits and how the answers name it."""

    data: HouseholdData
    name: str
    value: Any

    @classmethod
    def of(cls, change: tuple[str, Any]) -> Case:
        name, value = change
        data = factories.household()
        if name == "name":
            data.members[0].name = value
        else:
            setattr(data, name, value)
        return cls(data, name, value)

    @property
    def member(self) -> bool:
        return self.name == "name"

    def path(self, prefix: str = "members.0.") -> str:
        return f"{prefix}{camel(self.name)}" if self.member else camel(self.name)


async def stored(db: AsyncEngine, case: Case) -> Any:
    """The value as the registry holds it for the case's household, or None if nothing was written."""
    async with db.connect() as conn:
        if case.member:
            return await conn.scalar(select(MEMBERS.c.name).where(MEMBERS.c.nik == case.data.members[0].nik))
        return await conn.scalar(select(HOUSEHOLDS.c[case.name]).where(HOUSEHOLDS.c.kk_number == case.data.kk_number))


async def nothing_written(db: AsyncEngine, case: Case) -> None:
    niks = [m.nik for m in case.data.members]
    async with db.connect() as conn:
        assert not await conn.scalar(
            select(func.count()).select_from(HOUSEHOLDS).where(HOUSEHOLDS.c.kk_number == case.data.kk_number)
        )
        assert not await conn.scalar(select(func.count()).select_from(MEMBERS).where(MEMBERS.c.nik.in_(niks)))


# The GraphQL API


async def post(client: httpx.AsyncClient, headers: dict[str, str], query: str, variables: dict[str, Any]) -> Any:
    """A request as any client may send it: JSON with ASCII escapes, so lone surrogates travel too."""
    body = json.dumps({"query": query, "variables": variables}).encode()
    return await client.post("/graphql", content=body, headers={**headers, "content-type": "application/json"})


def refused_before_execution(response: httpx.Response, case: Case) -> bool:
    """A NUL refused by the HTTP layer, or a number GraphQL's 32-bit Int cannot carry; never a server error."""
    if response.status_code == 400:
        assert "NUL character" in response.text and "\x00" in str(case.value), response.text
        return True
    assert response.status_code == 200, response.text
    errors = response.json().get("errors")
    if not errors:
        return False
    assert case.name == "livestock_count" and not INT32[0] <= case.value <= INT32[1], errors
    assert "Int cannot represent non 32-bit signed integer value" in errors[0]["message"]
    assert errors[0]["extensions"]["code"] != "INTERNAL_SERVER_ERROR"
    return True


def refused_field(result: dict[str, Any]) -> list[str]:
    assert result["__typename"] == "ValidationError", result
    return [f["field"] for f in result["fields"]]


@SETTINGS
@given(change=VALUES | WITH_SURROGATES)
@with_findings
async def test_api_registration_stores_a_value_as_given_or_names_its_field(
    db: AsyncEngine, client: httpx.AsyncClient, auth_headers: dict[str, str], change: tuple[str, Any]
) -> None:
    case = Case.of(change)
    response = await post(client, auth_headers, REGISTER, {"input": factories.household_input(case.data)})
    if not refused_before_execution(response, case):
        result = response.json()["data"]["registerHousehold"]
        if result["__typename"] == "Household":
            event("stored")
            assert await stored(db, case) == case.value
            return
        assert refused_field(result) == [case.path()]
    event(f"refused: {case.name}")
    await nothing_written(db, case)


@SETTINGS
@given(change=VALUES | WITH_SURROGATES)
@with_findings
async def test_api_changes_store_a_value_as_given_or_name_its_field(
    db: AsyncEngine, client: httpx.AsyncClient, auth_headers: dict[str, str], change: tuple[str, Any]
) -> None:
    case = Case.of(change)
    original = factories.household()
    original.kk_number, original.members = case.data.kk_number, case.data.members[:1]
    original.members[0].name = "Budi Santoso"
    (household_id,) = await store(db, [original])
    if case.member:
        async with db.connect() as conn:
            member_id = await conn.scalar(select(MEMBERS.c.id).where(MEMBERS.c.household_id == int(household_id)))
        query, name = CHANGE_MEMBER, "updateMember"
        variables = {"id": household_id, "version": 1, "member": str(member_id), "changes": {"name": case.value}}
    else:
        query, name = UPDATE, "updateHousehold"
        variables = {"id": household_id, "version": 1, "changes": {camel(case.name): case.value}}
    response = await post(client, auth_headers, query, variables)
    if not refused_before_execution(response, case):
        result = response.json()["data"][name]
        if result["__typename"] == "Household":
            event("stored")
            assert result["version"] == 2 and await stored(db, case) == case.value
            return
        assert refused_field(result) == [case.path("member.")]
    event(f"refused: {case.name}")
    kept = original.members[0].name if case.member else getattr(original, case.name)
    assert await stored(db, case) == kept
    async with db.connect() as conn:
        assert await conn.scalar(select(HOUSEHOLDS.c.version).where(HOUSEHOLDS.c.id == int(household_id))) == 1


# The file import


def cell_text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


async def imported(db: AsyncEngine, case: Case, path: Path, expected: Any) -> None:
    """The file loaded the household with ``expected`` stored, or rejected it naming the case's column only."""
    summary = await import_run(db, path)
    if summary.loaded:
        event("stored")
        assert await stored(db, case) == expected
        return
    event(f"refused: {case.name}")
    assert summary.rejected == 1
    assert [(row, column) for row, column, _ in read_report(summary.report)] == [(2, case.name)]
    await nothing_written(db, case)


FILE_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40) | TEXT  # UTF-8 files hold no surrogates


@FILE_SETTINGS
@given(change=VALUES | st.tuples(st.sampled_from(["name", "address"]), FILE_TEXT))
@with_findings
async def test_csv_import_stores_a_value_as_given_or_names_its_row_and_column(
    db: AsyncEngine, tmp_path: Path, change: tuple[str, Any]
) -> None:
    case = Case.of(change)
    rows = file_rows([case.data])
    rows[0][FILE_COLUMNS.index(case.name)] = cell_text(case.value)  # the head's row holds the household's cells
    if not case.member:
        for row in rows[1:]:
            row[FILE_COLUMNS.index(case.name)] = cell_text(case.value)
    path = write_csv(tmp_path / f"{case.data.kk_number}.csv", rows)
    text = isinstance(case.value, str)
    await imported(db, case, path, restored(case.value.strip()) if text else case.value)


def xlsx_cell(sheet: Any, value: Any) -> Any:
    """Text as a text cell (never a formula), whole numbers that a double holds as numbers, others as text."""
    if isinstance(value, int) and abs(value) < 2**53 or isinstance(value, float):
        return value
    cell = WriteOnlyCell(sheet, str(value))
    cell.data_type = "s"
    return cell


def writable_to_xml(text: str) -> bool:
    """No character XML 1.0 cannot hold (openpyxl refuses most; U+FFFE/U+FFFF would make the file unreadable)."""
    return not ILLEGAL_CHARACTERS_RE.search(text) and "\ufffe" not in text and "\uffff" not in text


XLSX_TEXT = FILE_TEXT.filter(writable_to_xml)


@FILE_SETTINGS
@given(
    change=HOUSEHOLD_VALUES.filter(lambda change: not isinstance(change[1], str) or writable_to_xml(change[1]))
    | st.tuples(st.sampled_from(["name", "address"]), XLSX_TEXT)
)
@example(change=("livestock_count", 99999999999999999999))
@example(change=("livestock_count", 3_000_000_000))
@example(change=("rt", "1\u0663"))
async def test_xlsx_import_stores_a_value_as_given_or_names_its_row_and_column(
    db: AsyncEngine, tmp_path: Path, change: tuple[str, Any]
) -> None:
    case = Case.of(change)
    rows = file_rows([case.data])
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Sheet1")
    sheet.append(list(FILE_COLUMNS))
    column = FILE_COLUMNS.index(case.name)
    for number, row in enumerate(rows):
        cells: list[Any] = [WriteOnlyCell(sheet, cell) for cell in row]
        if number == 0 or not case.member:
            cells[column] = xlsx_cell(sheet, case.value)
        sheet.append(cells)
    path = tmp_path / f"{case.data.kk_number}.xlsx"
    book.save(path)
    await imported(db, case, path, case.value.strip() if isinstance(case.value, str) else case.value)


# The offline import


@pytest.fixture
async def exported(field: Field) -> Field:  # noqa: F811  (the fixture of tests.test_offline)
    await export(field)
    return field


@SETTINGS
@given(
    change=VALUES
    | WITH_SURROGATES
    | st.tuples(st.sampled_from(["floor_area", "livestock_count"]), st.sampled_from([float("inf"), 1e308, 10**400]))
)
@with_findings
@example(change=("name", "Siti \ud800")).via("a lone surrogate: the resend digest once failed on it")
async def test_offline_proposal_stores_a_value_as_given_or_names_its_row_and_field(
    db: AsyncEngine, exported: Field, settings: Settings, change: tuple[str, Any]
) -> None:
    case = Case.of(change)
    client_id = f"n-{case.data.kk_number}"
    package = exported.package.with_name(f"{client_id}.siks")
    shutil.copyfile(exported.package, package)
    add_proposal(package, client_id, case.data)
    try:
        report = await import_package(
            db, folder_store(exported.photo_dir), package, OFFICER, secret_key=settings.secret_key, max_photo_bytes=1024
        )
    except PackageRefused as refused:
        event(f"refused: {case.name}")
        message = str(refused)
        assert message.startswith(f"proposals row {client_id!r}: "), message
        named = message.removeprefix(f"proposals row {client_id!r}: ").split(":")[0]
        assert named in {f"household.{case.name}", f"household.members.0.{case.name}", case.path()}, message
        async with db.connect() as conn:
            kks = await conn.scalars(select(PROPOSED_HOUSEHOLDS.c.kk_number))
            assert case.data.kk_number not in set(kks)
        return
    event("stored")
    assert report.proposals_made == 1
    async with db.connect() as conn:
        if case.member:
            value = await conn.scalar(
                select(PROPOSED_MEMBERS.c.name).where(PROPOSED_MEMBERS.c.nik == case.data.members[0].nik)
            )
        else:
            value = await conn.scalar(
                select(PROPOSED_HOUSEHOLDS.c[case.name]).where(PROPOSED_HOUSEHOLDS.c.kk_number == case.data.kk_number)
            )
    assert value == case.value
