"""Finding 8: one bad cell killed a whole import; values the columns cannot hold reached the database.

A ``livestock_count`` of 99999999999999999999 (SQLite) or 3000000000 (PostgreSQL's 32-bit INTEGER)
and a NUL in a name (PostgreSQL) aborted an import with a traceback. Now every value is checked
against what its column holds (``core.households.data`` declares widths and ranges, next to the
field list; ``core.households.rules.value_errors`` applies them) by the API, the file import and
the offline import alike: a bad row is rejected with its row and field, and the rest loads.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, get_type_hints

import httpx
from sqlalchemy import BigInteger, Integer, String, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.bulk.layout import FILE_COLUMNS
from core.foundation.enums import Relationship
from core.households.data import (
    HOUSEHOLD_COLUMNS,
    MEMBER_COLUMNS,
    TEXT_LENGTHS,
    WHOLE_NUMBER_RANGES,
    HouseholdData,
    MemberData,
)
from core.storage.records import HOUSEHOLDS, MEMBERS
from tests import factories
from tests.bulk_files import counts, file_rows, for_household, read_report, with_cell, write_csv, write_xlsx
from tests.conftest import GraphQLClient
from tests.test_bulk_import import run as import_run
from tests.test_offline import (  # noqa: F401  (fixtures: field, photo_dir)
    Field,
    add_proposal,
    add_visit,
    change_file,
    export,
    field,
    import_package,
    photo_dir,
)
from tests.test_offline import counts as offline_counts
from tests.test_schema_mutations import ADD, REGISTER, UPDATE, fields_of

ONE_LINE = "only one line of printable text is taken"
LIVESTOCK = "livestock count must be a whole number from 0 to 100,000"


def set_column(column: str, value: str) -> Any:
    def change(row: list[str]) -> None:
        row[FILE_COLUMNS.index(column)] = value

    return change


async def test_finding_8_declared_limits_fit_the_columns_of_the_migrated_database(db: AsyncEngine) -> None:
    def columns(sync_conn: Any) -> dict[str, Any]:
        found = inspect(sync_conn)
        return {
            **{c["name"]: c["type"] for c in found.get_columns("households") if c["name"] in HOUSEHOLD_COLUMNS},
            **{c["name"]: c["type"] for c in found.get_columns("members") if c["name"] in MEMBER_COLUMNS},
        }

    async with db.connect() as conn:
        types = await conn.run_sync(columns)
    kinds = {**get_type_hints(HouseholdData), **get_type_hints(MemberData)}
    text = {name for name in types if kinds[name] is str}
    whole = {name for name in types if kinds[name] is int}
    assert set(TEXT_LENGTHS) == text and set(WHOLE_NUMBER_RANGES) == whole  # every such field has its limit
    for name in text:
        assert isinstance(types[name], String) and TEXT_LENGTHS[name] <= types[name].length, name
    for name in whole:
        assert isinstance(types[name], Integer), name
        bits = 64 if isinstance(types[name], BigInteger) else 32
        low, high = WHOLE_NUMBER_RANGES[name]
        assert -(2 ** (bits - 1)) <= low <= high < 2 ** (bits - 1), name


def bad_households() -> list[tuple[HouseholdData, str, str]]:
    """Households, each with one cell no column holds: (household, column, value)."""
    return [
        (factories.household(), "livestock_count", "99999999999999999999"),  # SQLite's 64-bit INTEGER overflows
        (factories.household(), "livestock_count", "3000000000"),  # PostgreSQL's 32-bit INTEGER overflows
        (factories.household(), "livestock_count", "9" * 5000),  # more digits than Python's int() converts
        (factories.household(), "rt", "1\u0663"),  # ARABIC-INDIC DIGIT THREE: \d took it
        (factories.household(), "floor_area", "\u0663\u0660"),  # float() took it as 30.0
        (factories.household(), "floor_area", "1_000"),  # float() took it as 1000.0
    ]


EXPECTED_REASONS = [
    ("livestock_count", LIVESTOCK),
    ("livestock_count", LIVESTOCK),
    ("livestock_count", "'" + "9" * 40 + "...' has too many digits"),
    ("rt", "RT must be 1 to 3 digits"),
    ("floor_area", "'\u0663\u0660' is not a number"),
    ("floor_area", "'1_000' is not a number"),
]


async def test_finding_8_a_csv_cell_no_column_holds_is_a_row_error_and_the_rest_loads(
    db: AsyncEngine, tmp_path: Path
) -> None:
    first, last = factories.household(), factories.household()
    bad = bad_households()
    nul = factories.household()
    rows = file_rows([first, *(data for data, _, _ in bad), nul, last])
    for data, column, value in bad:
        rows = for_household(rows, data.kk_number, set_column(column, value))
    nul_row = 3 * (len(bad) + 1) + 1  # the NUL household's second member, counting data rows from 0
    rows = with_cell(rows, nul_row, "name", "Siti\x00Aminah")

    summary = await import_run(db, write_csv(tmp_path / "h.csv", rows))

    assert (summary.loaded, summary.rejected, summary.rows) == (2, len(bad) + 1, 3 * (len(bad) + 3))
    expected = [(5 + 3 * index, column, reason) for index, (column, reason) in enumerate(EXPECTED_REASONS)]
    expected.append((nul_row + 2, "name", f"name holds the control character U+0000; {ONE_LINE}"))
    assert read_report(summary.report) == expected
    assert await counts(db) == (2, 6)
    async with db.connect() as conn:
        assert set(await conn.scalars(select(HOUSEHOLDS.c.kk_number))) == {first.kk_number, last.kk_number}


async def test_finding_8_an_xlsx_cell_no_column_holds_is_a_row_error_and_the_rest_loads(
    db: AsyncEngine, tmp_path: Path
) -> None:
    first, last = factories.household(), factories.household()
    bad = bad_households()
    rows: list[list[Any]] = file_rows([first, *(data for data, _, _ in bad), last])
    for data, column, value in bad:
        typed = int(value) if column == "livestock_count" and len(value) < 30 else value  # a number cell
        rows = for_household(rows, data.kk_number, set_column(column, typed))

    summary = await import_run(db, write_xlsx(tmp_path / "h.xlsx", rows))

    assert (summary.loaded, summary.rejected) == (2, len(bad))
    expected = [(5 + 3 * index, column, reason) for index, (column, reason) in enumerate(EXPECTED_REASONS)]
    expected[0] = (5, "livestock_count", "'1e+20' is not a whole number")  # a number cell is a double, as in Excel
    assert read_report(summary.report) == expected
    assert await counts(db) == (2, 6)


async def test_finding_8_the_api_refuses_values_the_columns_cannot_hold(
    db: AsyncEngine, gql: GraphQLClient, client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    def register(**changes: Any) -> dict[str, Any]:
        data = factories.household(**{k: v for k, v in changes.items() if k != "name"})
        if "name" in changes:
            data.members[0].name = changes["name"]
        return {"input": factories.household_input(data)}

    answer = await gql.raw(REGISTER, register(livestock_count=3_000_000_000))
    assert "Int cannot represent non 32-bit signed integer value" in answer["errors"][0]["message"]
    assert answer["errors"][0]["extensions"]["code"] != "INTERNAL_SERVER_ERROR"
    cases = [
        (register(livestock_count=100_001), {"livestockCount": LIVESTOCK}),
        (register(livestock_count=-1), {"livestockCount": LIVESTOCK}),
        (register(rt="1\u0663"), {"rt": "RT must be 1 to 3 digits"}),
        (
            register(village_code="32.01.01.\u0661\u0660\u0660\u0661"),
            {"villageCode": "'32.01.01.١٠٠١' is not a village code such as 32.01.01.2001"},
        ),
        (register(name="B" * 121), {"members.0.name": "name is longer than 120 characters"}),
        (register(address="Jl.\x7f"), {"address": f"address holds the control character U+007F; {ONE_LINE}"}),
    ]
    for variables, expected in cases:
        assert fields_of((await gql(REGISTER, variables))["registerHousehold"]) == expected
    nul = await client.post(
        "/graphql", json={"query": REGISTER, "variables": register(name="Budi\x00")}, headers=auth_headers
    )
    assert nul.status_code == 400 and "NUL character" in nul.text
    assert await counts(db) == (0, 0)

    created = (await gql(REGISTER, register()))["registerHousehold"]
    for changes, field_name in (({"livestockCount": 250_000}, "livestockCount"), ({"floorArea": 1e308}, "floorArea")):
        changed = (await gql(UPDATE, {"id": created["id"], "version": 1, "changes": changes}))["updateHousehold"]
        assert list(fields_of(changed)) == [field_name]
    member = factories.member(Relationship.CHILD, birth_date=date(2020, 1, 2), name="Adik\u2067 Baru")
    added = (await gql(ADD, {"id": created["id"], "version": 1, "member": factories.member_input(member)}))["addMember"]
    assert fields_of(added) == {"member.name": f"name holds the control character U+2067; {ONE_LINE}"}
    async with db.connect() as conn:
        assert (await conn.execute(select(HOUSEHOLDS.c.version, HOUSEHOLDS.c.livestock_count))).one() == (1, 0)
        assert len((await conn.execute(select(MEMBERS.c.id))).all()) == 3


async def test_finding_8_the_offline_import_refuses_a_value_naming_its_row_and_field(
    field: Field,  # noqa: F811  (the fixture of tests.test_offline)
    db: AsyncEngine,
) -> None:
    await export(field)
    before = await offline_counts(db)
    huge = factories.household(livestock_count=99999999999999999999)
    add_proposal(field.package, "n-huge", huge)
    code, _out, err = await import_package(field.package)
    assert code == 2
    assert f"proposals row 'n-huge': livestockCount: {LIVESTOCK}" in err

    change_file(field.package, "DELETE FROM proposals")
    with_nul = factories.household()
    with_nul.members[2].name = "Ayu\x00"
    add_proposal(field.package, "n-nul", with_nul)
    code, _out, err = await import_package(field.package)
    assert code == 2 and "proposals row 'n-nul': members.2.name: name holds the control character U+0000" in err

    change_file(field.package, "DELETE FROM proposals")
    visited = field.households[0].id
    add_visit(field.package, "v-1", visited, {"household": {"floor_area": 10**400}})
    code, _out, err = await import_package(field.package)
    assert code == 2 and "visits row 'v-1': changes.household.floor_area: 1000000000" in err
    assert "is not a finite number" in err

    change_file(field.package, "UPDATE visits SET changes = NULL, note = ?", "kosong\x00")
    code, _out, err = await import_package(field.package)
    assert code == 2 and "visits row 'v-1': note: holds the control character U+0000, which cannot be stored" in err
    assert await offline_counts(db) == before

    # The visit itself happened: it is recorded, and changes the rules refuse are reported, not proposed.
    change_file(field.package, "UPDATE visits SET note = 'pindah RT', changes = ?", '{"household": {"rt": "0\u0667"}}')
    code, out, err = await import_package(field.package)
    assert code == 0, err
    assert f"household {visited} (v-1): household.rt: RT must be 1 to 3 digits" in out
    after = await offline_counts(db)
    assert (after["visits"], after["proposals"]) == (before["visits"] + 1, before["proposals"])


async def test_finding_8_ids_take_ascii_digits_only(
    db: AsyncEngine, gql: GraphQLClient, client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    # int() reads '١٢' (Arabic-Indic digits), ' 12' and '1_2' as 12, and raises on '²' (a digit to str.isdigit)
    for value in ("\u0661\u0662", " 12", "1_2", "\u00b2", "9" * 5000):
        body = await gql.raw("query($id: ID!) { household(id: $id) { id } }", {"id": value})
        assert "is not an id returned by this API" in body["errors"][0]["message"], body
    for raw in ("%C2%B2", "%D9%A1%D9%A2", "1_2", "9" * 5000):
        response = await client.get(f"/photos/{raw}", headers=auth_headers)
        assert response.status_code == 404, response.text
