"""GraphQL: reading households, pagination, scope by region, and statement counts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.ids import encode_global
from core.households import service
from core.households.data import HouseholdData
from core.storage.db import write_transaction
from tests import factories
from tests.conftest import GraphQLClient

PAGE = """
query Page($region: String, $first: Int!, $after: String) {
  households(regionCode: $region, first: $first, after: $after) {
    totalCount
    edges { cursor node { id kkNumber version region { code name } members { nik name sex birthDate relationship } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def store(engine: AsyncEngine, households: list[HouseholdData]) -> list[str]:
    ids = []
    async with write_transaction(engine) as conn:
        for data in households:
            record = await service.register_household(conn, data)
            assert not isinstance(record, service.Invalid), record
            ids.append(str(record.id))
    return ids


@contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_household_page_shows_members_and_village(db: AsyncEngine, gql: GraphQLClient) -> None:
    [household_id] = await store(db, [factories.household()])
    data = await gql(PAGE, {"first": 10})
    connection = data["households"]
    assert connection["totalCount"] == 1
    node = connection["edges"][0]["node"]
    assert factories.key_of(node["id"]) == household_id and node["version"] == 1
    assert node["region"] == {"code": factories.VILLAGE, "name": "Pondok Rajeg"}
    assert [m["relationship"] for m in node["members"]] == ["HEAD", "SPOUSE", "CHILD"]
    assert node["members"][1]["sex"] == "FEMALE" and node["members"][1]["birthDate"] == "1983-02-09"
    assert connection["pageInfo"] == {"hasNextPage": False, "endCursor": connection["edges"][0]["cursor"]}
    assert node["id"] == encode_global("Household", household_id)  # opaque to clients


async def test_cursor_pagination_walks_every_household_once(db: AsyncEngine, gql: GraphQLClient) -> None:
    ids = await store(db, [factories.household() for _ in range(7)])
    seen: list[str] = []
    after = None
    while True:
        page = (await gql(PAGE, {"first": 3, "after": after}))["households"]
        assert page["totalCount"] == 7
        seen += [factories.key_of(edge["node"]["id"]) for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ids


async def test_region_filter_covers_everything_below_and_nothing_beside(db: AsyncEngine, gql: GraphQLClient) -> None:
    await store(db, [factories.household(), factories.household(factories.OTHER_VILLAGE)])
    for code, expected in [
        ("32", 1),
        ("32.01", 1),
        ("32.01.01", 1),
        ("32.01.01.1001", 1),
        ("35", 1),
        ("32.01.01.1002", 0),
        ("32.02", 0),
        ("3", None),
    ]:
        body = await gql.raw(PAGE, {"region": code, "first": 10})
        if expected is None:
            assert "not a Kemendagri region code" in body["errors"][0]["message"]
        else:
            assert body["data"]["households"]["totalCount"] == expected, code


async def test_prefix_never_matches_a_longer_sibling_code(db: AsyncEngine, gql: GraphQLClient) -> None:
    # 32.01.01 must not match 32.01.010... style codes; village codes of district 32.01.01 and
    # district 32.01.10 differ only after the prefix "32.01.1".
    await store(db, [factories.household("32.01.10.2001")])
    assert (await gql(PAGE, {"region": "32.01.01", "first": 10}))["households"]["totalCount"] == 0
    assert (await gql(PAGE, {"region": "32.01.10", "first": 10}))["households"]["totalCount"] == 1


async def test_page_size_limits_and_bad_cursor(db: AsyncEngine, gql: GraphQLClient) -> None:
    body = await gql.raw(PAGE, {"first": 100000})
    assert "first: must be between 0 and 1000" in body["errors"][0]["message"]
    body = await gql.raw(PAGE, {"first": 5, "after": "bm9wZQ=="})
    assert "not a cursor returned by this API" in body["errors"][0]["message"]


async def test_statements_stay_constant_whatever_the_page_size(db: AsyncEngine, gql: GraphQLClient) -> None:
    await store(db, [factories.household() for _ in range(100)])
    counts = []
    for first in (10, 100):
        with count_statements(db) as statements:
            data = await gql(PAGE, {"first": first})
        assert len(data["households"]["edges"]) == first
        assert all(len(edge["node"]["members"]) == 3 for edge in data["households"]["edges"])
        counts.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
    assert counts[0] == counts[1] <= 4, counts  # households, members, regions, count


async def test_household_by_id_and_person_by_nik(db: AsyncEngine, gql: GraphQLClient) -> None:
    data_in = factories.household()
    [household_id] = await store(db, [data_in])
    nik = data_in.members[1].nik
    data = await gql(
        """query($id: ID!, $nik: String!) {
             household(id: $id) { kkNumber floorMaterial floorArea hasMotorcycle latitude members { nik } }
             person(nik: $nik) { name relationship household { id } }
           }""",
        {"id": household_id, "nik": nik},
    )
    assert data["household"]["kkNumber"] == data_in.kk_number
    assert data["household"]["floorMaterial"] == "CEMENT_BRICK" and data["household"]["floorArea"] == 36.0
    found = {"id": encode_global("Household", household_id)}
    assert data["person"] == {"name": "Siti Aminah", "relationship": "SPOUSE", "household": found}
    missing = await gql('{ household(id: "12345") { id } person(nik: "3201010101800001") { name } }')
    assert missing == {"household": None, "person": None}
    body = await gql.raw('{ household(id: "abc") { id } }')
    assert "is not an id returned by this API" in body["errors"][0]["message"]


async def test_ids_out_of_range_are_refused_as_input(gql: GraphQLClient) -> None:
    for value in ("99999999999999999999", "-1", "12a"):
        body = await gql.raw("query($id: ID!) { household(id: $id) { id } }", {"id": value})
        assert "is not an id returned by this API" in body["errors"][0]["message"], body
