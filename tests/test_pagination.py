"""Relay connections both ways (core/schema/pagination.py, core/storage/keyset.py): backward pages are forward pages
reversed, PageInfo is right at both ends, first with last is refused, and last is priced like first."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import parse
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import FloorMaterial
from core.foundation.settings import Settings
from core.schema import cost
from core.schema.build import build_schema
from core.schema.list_sizes import Known
from core.storage.db import write_transaction
from core.verification import proposals
from core.verification.drafts import ChangeRequest
from tests.conftest import GraphQLClient
from tests.test_fieldwork import open_round
from tests.verification_support import officer, registered

HOUSEHOLDS = """query($first: Int, $after: String, $last: Int, $before: String) {
  households(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
PROPOSALS = """query($first: Int, $after: String, $last: Int, $before: String) {
  proposals(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
PRELIST = """query($round: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  verificationRound(id: $round) { prelist(villageCode: "32.01.01.1001", first: $first, after: $after, last: $last,
                                          before: $before) {
    entries { householdId } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""


async def walk(gql: GraphQLClient, query: str, pick: Any, backward: bool, size: int, **extra: Any) -> list[Any]:
    """Every page of a connection in one direction, checking each page's PageInfo; the pages in reading order."""
    pages: list[tuple[list[str], dict[str, Any]]] = []
    cursor = None
    while True:
        arguments = {"last": size, "before": cursor} if backward else {"first": size, "after": cursor}
        items, info = pick(await gql(query, {**extra, **arguments}))
        pages.append((items, info))
        if items:
            assert info["startCursor"] and info["endCursor"], info
        more = info["hasPreviousPage"] if backward else info["hasNextPage"]
        if not more:
            break
        cursor = info["startCursor"] if backward else info["endCursor"]
    first, last = pages[0][1], pages[-1][1]
    if backward:  # the first page read is the list's end, the last one its start
        assert (first["hasNextPage"], last["hasPreviousPage"]) == (False, False)
        assert all(info["hasNextPage"] for _items, info in pages[1:])
    else:
        assert (first["hasPreviousPage"], last["hasNextPage"]) == (False, False)
        assert all(info["hasPreviousPage"] for _items, info in pages[1:])
    return [item for items, _info in (reversed(pages) if backward else pages) for item in items]


def connection(name: str) -> Any:
    def pick(data: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
        found = data[name]
        return [edge["node"]["id"] for edge in found["edges"]], found["pageInfo"]

    return pick


async def test_households_backward_equal_forward_and_page_info_is_right_at_both_ends(
    db: AsyncEngine, gql: GraphQLClient
) -> None:
    await registered(db, 7)
    forward = await walk(gql, HOUSEHOLDS, connection("households"), backward=False, size=3)
    backward = await walk(gql, HOUSEHOLDS, connection("households"), backward=True, size=3)
    assert len(forward) == 7 and backward == forward
    everything = await gql(HOUSEHOLDS, {})  # neither first nor last: the default page
    assert [e["node"]["id"] for e in everything["households"]["edges"]] == forward
    middle = await gql(
        HOUSEHOLDS,
        {
            "after": everything["households"]["edges"][1]["cursor"],
            "before": everything["households"]["edges"][5]["cursor"],
            "last": 2,
        },
    )
    assert [e["node"]["id"] for e in middle["households"]["edges"]] == forward[3:5]
    empty = (await gql(HOUSEHOLDS, {"last": 0}))["households"]
    assert empty["edges"] == [] and empty["pageInfo"]["startCursor"] is None


async def test_proposals_and_prelist_page_backward_too(db: AsyncEngine, gql: GraphQLClient, as_role: Any) -> None:
    round_id, made = await open_round(as_role, db, households=5)
    async with write_transaction(db) as conn:
        for household in made:
            change = ChangeRequest(household={"floor_material": FloorMaterial.CERAMIC})
            await proposals.propose_change(conn, officer("village_operator"), household.id, household.version, change)
    forward = await walk(gql, PROPOSALS, connection("proposals"), backward=False, size=2)
    assert len(forward) == 5 and await walk(gql, PROPOSALS, connection("proposals"), backward=True, size=2) == forward

    def prelist(data: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
        found = data["verificationRound"]["prelist"]
        return [entry["householdId"] for entry in found["entries"]], found["pageInfo"]

    ahead = await walk(gql, PRELIST, prelist, backward=False, size=2, round=round_id)
    assert len(ahead) == 5 and await walk(gql, PRELIST, prelist, backward=True, size=2, round=round_id) == ahead


async def test_first_with_last_is_refused_naming_both(gql: GraphQLClient) -> None:
    body = await gql.raw(HOUSEHOLDS, {"first": 2, "last": 2})
    assert body["data"] is None and body["errors"][0]["message"].startswith("first, last: give one of them"), body
    body = await gql.raw(HOUSEHOLDS, {"before": "bukan-kursor", "last": 2})
    assert body["errors"][0]["message"].startswith("before: not a cursor returned by this API"), body
    body = await gql.raw(HOUSEHOLDS, {"last": 100_000})
    assert body["errors"][0]["message"].startswith("last: must be between 0 and"), body


def test_last_is_priced_like_first_and_an_omitted_page_at_the_fields_default(settings: Settings) -> None:
    schema: strawberry.Schema = build_schema(settings)

    def priced(query: str) -> int:
        walked = cost.Walk(parse(query))
        return cost.operation_cost(schema._schema, walked, walked.operations[0], 1000, Known(), {})

    node = "{ edges { node { id kkNumber } } }"
    assert priced(f"{{ households(last: 40) {node} }}") == priced(f"{{ households(first: 40) {node} }}")
    assert priced(f"{{ households(last: 40) {node} }}") > priced(f"{{ households(last: 4) {node} }}")
    assert priced(f"{{ households {node} }}") == priced(f"{{ households(first: 50) {node} }}")
    prelist = '{ verificationRound(id: "1") { prelist(villageCode: "32.01.01.1001"%s) { entries { householdId } } } }'
    assert priced(prelist % "") == priced(prelist % ", first: 100") > priced(prelist % ", last: 50")
