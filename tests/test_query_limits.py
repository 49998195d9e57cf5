"""Finding 2 (issue 12): one query froze the server. Costs from real sizes, a size cap and a deadline while executing.

``{ regions(level: DISTRICT) { children { parent { children { parent { children { code } } } } } } }``
kept the server busy ~100 s and grew it by 1.6 GB: every unpaged list was priced at 10 items. Here:
the estimate prices each list at its real worst case (refused at validation, fast); an allowed query
whose answer outgrows ``SIKS_MAX_RESPONSE_BYTES`` is stopped while it runs; and a CPU-bound query is
stopped at ``SIKS_REQUEST_TIMEOUT_SECONDS`` while the same server goes on answering other clients.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from graphql import (
    GraphQLObjectType,
    GraphQLSyntaxError,
    GraphQLUnionType,
    OperationDefinitionNode,
    get_named_type,
    parse,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from core.public.schema import build_public_schema
from core.regions.sizes import NATIONAL, region_sizes, sizes_of
from core.runtime.deadline import deadline_in
from core.schema import cost, limits
from core.schema.build import build_schema
from core.schema.execution import PlanningExecutionContext
from core.schema.list_sizes import CORE_SIZES, Items, Known, hint_of
from core.schema.loader import SharedLoader
from tests.conftest import GraphQLClient, token_headers
from tests.serving import serve, uvicorn_server

ATTACK = "{ regions(level: DISTRICT) { children { parent { children { parent { children { code } } } } } } }"
#: The heaviest region query the default cost limit lets through: 7,285 districts and three async parents each.
HEAVY = (
    "{ regions(level: DISTRICT) { code name level parent { code name level parent { code name level "
    "parent { code name } } } } }"
)
ME = "{ me { username } }"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def schema(settings: Settings) -> strawberry.Schema:
    return build_schema(settings)


def cost_of(schema: strawberry.Schema, query: str, variables: dict[str, Any] | None = None) -> int:
    walk = cost.Walk(parse(query))
    return cost.operation_cost(schema._schema, walk, walk.operations[0], 1000, Known(), variables)


# --- the estimate -----------------------------------------------------------------------------------------------


async def test_finding_2_the_attack_query_is_refused_at_validation_naming_cost_and_limit(
    gql: GraphQLClient, as_role: Any
) -> None:
    village_operator = as_role("village_operator", "32.01.01.2001")
    for caller in (gql, village_operator):  # any logged-in token
        started = time.perf_counter()
        body = await caller.raw(ATTACK)
        assert time.perf_counter() - started < 2
        assert body["data"] is None
        [error] = body["errors"]
        assert error["message"] == (
            "'anonymous' costs 9,348,527,246, more than the limit of 200,000: ask for smaller pages (first), fewer "
            "nested lists or fewer items at once"
        )
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_the_national_figures_are_those_of_the_loaded_region_table(db: AsyncEngine) -> None:
    async with db.connect() as conn:
        assert await region_sizes(conn) == NATIONAL
    assert (NATIONAL.at(3), NATIONAL.children(3), NATIONAL.under(1, 4), NATIONAL.children(4)) == (7_285, 108, 8_563, 0)


def test_sizes_of_a_hierarchy_count_levels_children_and_descendants() -> None:
    sizes = sizes_of([(None, 2), ("11", 3), ("12", 1), ("11.01", 4), ("11.02", 2), ("11.01.01", 5), ("11.01.02", 7)])
    assert [sizes.at(level) for level in (1, 2, 3, 4)] == [2, 4, 6, 12]
    assert (sizes.children(1), sizes.children(2), sizes.children(3), sizes.most_children()) == (3, 4, 7, 7)
    assert (sizes.under(1, 3), sizes.under(1, 4), sizes.under(2, 4), sizes.under(3, 2)) == (6, 12, 12, 0)
    assert sizes.at_least(NATIONAL) == NATIONAL  # a smaller list never prices a query below the national one


def test_region_queries_are_priced_level_by_level(schema: strawberry.Schema) -> None:
    assert cost_of(schema, "{ regions { code } }") == 1 + 38
    assert cost_of(schema, "{ regions(level: DISTRICT) { code } }") == 1 + 7_285
    assert cost_of(schema, '{ regions(parentCode: "32.01.01") { code } }') == 1 + 108  # the largest district
    assert cost_of(schema, '{ regions(parentCode: "32", level: VILLAGE) { code } }') == 1 + 8_563
    # provinces → regencies → districts, every district of the country: allowed
    assert cost_of(schema, "{ regions { code children { code children { code } } } }") == 1 + 38 * (2 + 38 * (2 + 51))
    # a village has no children, a province no parent
    assert cost_of(schema, '{ region(code: "32.01.01.2001") { children { code children { code } } } }') == 2
    assert cost_of(schema, '{ region(code: "32") { parent { code parent { code } } } }') == 2
    # a level unknown until run is priced at the largest
    assert cost_of(schema, "query($l: RegionLevel) { regions(level: $l) { code } }") == 1 + 83_762
    assert cost_of(schema, "query($l: RegionLevel) { regions(level: $l) { code } }", {"l": "REGENCY"}) == 1 + 514
    assert cost_of(schema, HEAVY) < 200_000


def test_variables_price_batches_and_pages_by_what_was_sent(schema: strawberry.Schema) -> None:
    batch = "query($niks: [String!]!) { eligibilityBatch(niks: $niks) { nik found } }"
    assert cost_of(schema, batch) == 1 + 10_000 * 2  # not sent yet: the largest batch
    assert cost_of(schema, batch, {"niks": ["3201010101010001"] * 3}) == 1 + 3 * 2
    assert cost_of(schema, batch, {"niks": ["3201010101010001"] * 10_001}) == 1  # refused by its resolver instead
    assert cost_of(schema, '{ eligibilityBatch(niks: ["1", "2"]) { nik } }') == 1 + 2


def test_every_unpaged_list_of_objects_declares_its_size_and_every_declaration_names_a_field(
    schema: strawberry.Schema,
) -> None:
    fields = {}
    for type_name, named in schema._schema.type_map.items():
        if isinstance(named, GraphQLObjectType) and not type_name.startswith("__"):
            for name, field in named.fields.items():
                fields[f"{type_name}.{name}"] = field
    undeclared = [
        key
        for key, field in fields.items()
        if cost._is_list(field)
        and isinstance(get_named_type(field.type), GraphQLObjectType | GraphQLUnionType)
        and "first" not in field.args
        and hint_of(*key.split("."), field) is None
    ]
    assert undeclared == []
    assert sorted(set(CORE_SIZES) - set(fields)) == []


def test_a_plugin_declares_the_size_of_its_lists_on_the_field(schema: strawberry.Schema) -> None:
    from plugins.kube.schema import VILLAGE_GROUPS

    programs = schema._schema.type_map["Programs"]
    assert isinstance(programs, GraphQLObjectType)
    declared = hint_of("Programs", "kubeGroups", programs.fields["kubeGroups"])
    assert declared is next(iter(VILLAGE_GROUPS.values()))
    assert declared == Items(200, "active groups of one village: a large desa has a few thousand families")
    groups = '{ programs { kubeGroups(villageCode: "32.01.01.2001") { id householdIds } } }'
    assert cost_of(schema, groups) == 2 + 200 * 2


def documented_operations() -> Iterator[tuple[str, OperationDefinitionNode, Any]]:
    """Every operation of the ```graphql blocks of README.md and docs/*.md, with the document it is in."""
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"```graphql\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.DOTALL):
            try:
                document = parse(block)
            except GraphQLSyntaxError:
                continue  # an example answer shown in a graphql block, not a document
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    yield path.name, definition, document


def test_the_documented_queries_pass_the_cost_limit(settings: Settings) -> None:
    schemas = [build_schema(settings)._schema, build_public_schema(settings)._schema]
    checked = 0
    for name, operation, document in documented_operations():
        walk = cost.Walk(document)
        root_field = next(s for s in operation.selection_set.selections if hasattr(s, "name")).name.value  # type: ignore[attr-defined]
        target = next(s for s in schemas if root_field in (s.get_root_type(operation.operation).fields or {}))  # type: ignore[union-attr]
        # variables as the example sends them (none): a batch of NIKs is priced by its length when it is sent
        spent = cost.operation_cost(target, walk, operation, settings.max_page_size, Known(), variables={})
        assert 0 < spent <= settings.max_query_cost, (name, spent)
        checked += 1
    assert checked >= 10


# --- the size cap -----------------------------------------------------------------------------------------------


@strawberry.type
class Row:
    name: str


class LazyRow:
    """A row whose name is made when the answer reads it."""

    read: list[int] = []

    def __init__(self, number: int) -> None:
        self.number = number

    @property
    def name(self) -> str:
        LazyRow.read.append(self.number)
        return f"row {self.number:07d}"


@strawberry.type
class RowQuery:
    @strawberry.field
    def rows(self) -> list[Row]:
        return [LazyRow(n) for n in range(200_000)]  # type: ignore[misc]

    @strawberry.field
    async def rows_later(self) -> list[Row]:  # completed in turns (core/schema/execution.py)
        return [LazyRow(n) for n in range(200_000)]  # type: ignore[misc]


@pytest.mark.parametrize("field", ["rows", "rowsLater"])
async def test_an_answer_over_the_size_cap_is_stopped_while_it_is_built(field: str) -> None:
    class Capped(PlanningExecutionContext):
        max_response_bytes = 10_000

    LazyRow.read.clear()
    schema = strawberry.Schema(query=RowQuery, execution_context_class=Capped)
    query = f"{{ {field} {{ name }} }}"
    result = await schema.execute(query) if field == "rowsLater" else schema.execute_sync(query)
    assert result.data is None
    [error] = result.errors or []
    assert error.message == (
        "the answer would be larger than the limit of 10,000 bytes and was stopped; ask for less at once (smaller "
        "pages, fewer fields or nested lists)"
    )
    assert error.extensions == {"code": "RESPONSE_TOO_LARGE"}
    assert len(LazyRow.read) < 500  # about 10,000 / 28 bytes a row, not the 200,000 rows of the list


async def test_finding_2_a_query_under_the_cost_limit_with_a_huge_answer_is_stopped_by_the_size_cap(
    db: AsyncEngine, settings: Settings
) -> None:
    schema = build_schema(settings)
    assert cost_of(schema, HEAVY) < settings.max_query_cost  # allowed by the estimate: 1.5 MB of answer
    headers = token_headers(settings, "data_centre")
    small = '{ region(code: "32") { name parent { name } } }'
    async with serve(settings.model_copy(update={"max_response_bytes": 100_000})) as http:
        assert (await http.post("/graphql", json={"query": small}, headers=headers)).status_code == 200
        baseline = resident_mb()
        response = await http.post("/graphql", json={"query": HEAVY}, headers=headers)
        assert response.status_code == 200
        body = response.json()
        assert body["data"] is None
        assert [error["extensions"]["code"] for error in body["errors"]] == ["RESPONSE_TOO_LARGE"]
        assert "larger than the limit of 100,000 bytes" in body["errors"][0]["message"]
        after = await http.post("/graphql", json={"query": small}, headers=headers)
        assert after.json() == {"data": {"region": {"name": "Jawa Barat", "parent": None}}}
        await asyncio.sleep(1)  # what the stopped operation left pending settles
        assert resident_mb() < baseline * 1.2 + 20, (baseline, resident_mb())


def test_the_encoded_answer_is_capped_and_not_encoded_after_the_deadline() -> None:
    data = {"data": {"rows": ["x" * 100] * 100}}
    assert limits.encode_answer(data, 100_000).startswith(b'{"data":{"rows":["xxx')
    refused = limits.encode_answer(data, 5_000)
    assert b'"code":"RESPONSE_TOO_LARGE"' in refused and b'"data":null' in refused
    with deadline_in(0), pytest.raises(TimeoutError):
        limits.encode_answer(data, None)


def test_a_budget_stops_at_the_deadline_and_keeps_stopping() -> None:
    with deadline_in(0) as deadline:
        budget = limits.Budget(None, deadline)
        for _ in range(limits.CHECK_EVERY - 1):
            budget.spend(10)
        with pytest.raises(limits.ExecutionStopped) as stopped:
            budget.spend(10)
        assert stopped.value.extensions == {"code": "REQUEST_TIMEOUT"}
        with pytest.raises(limits.ExecutionStopped):
            budget.spend(0)  # pending work stops at its next value


async def test_a_cancelled_caller_leaves_a_shared_load_to_the_others() -> None:
    calls: list[list[str]] = []

    async def load(keys: list[str]) -> list[str]:
        calls.append(keys)
        await asyncio.sleep(0.05)
        return [key.upper() for key in keys]

    loader: SharedLoader[str, str] = SharedLoader(load)

    async def wait_for(key: str) -> str:
        return await loader.load(key)

    cancelled, kept = asyncio.ensure_future(wait_for("a")), asyncio.ensure_future(wait_for("a"))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    assert await kept == "A" and cancelled.cancelled() and calls == [["a"]]


# --- the deadline, on a real server -------------------------------------------------------------------------------


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


async def test_finding_2_a_cpu_heavy_query_is_stopped_at_the_time_limit_while_the_server_answers_others(
    db: AsyncEngine, settings: Settings
) -> None:
    headers = token_headers(settings, "data_centre")
    heavier = "{ a: " + HEAVY[2:-2] + " b: " + HEAVY[2:-2] + " }"  # the districts twice: cost 174,842, about 2 s
    assert cost_of(build_schema(settings), heavier) < settings.max_query_cost
    limit = 0.5
    with uvicorn_server(settings.model_copy(update={"request_timeout_seconds": limit})) as url:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
            assert (await http.post("/graphql", json={"query": ME})).status_code == 200
            baseline = resident_mb()
            heavy_done = asyncio.Event()
            answered: list[float] = []

            async def heavy() -> tuple[httpx.Response, float]:
                started = time.perf_counter()
                response = await http.post("/graphql", json={"query": heavier})
                heavy_done.set()
                return response, time.perf_counter() - started

            async def others() -> None:
                async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as other:
                    while not heavy_done.is_set():
                        started = time.perf_counter()
                        response = await other.post("/graphql", json={"query": ME})
                        assert response.json() == {"data": {"me": {"username": "test-data_centre"}}}
                        answered.append(time.perf_counter() - started)
                        await asyncio.sleep(0.02)

            (response, elapsed), _ = await asyncio.gather(heavy(), others())
            assert response.status_code == 503
            assert response.json()["errors"][0]["extensions"] == {"code": "REQUEST_TIMEOUT"}
            assert elapsed < limit + 1.5, elapsed
            assert len(answered) >= 3, answered  # the server went on answering while the heavy query ran
            await asyncio.sleep(2)  # what the stopped request left pending settles
            assert resident_mb() < baseline * 1.2 + 20, (baseline, resident_mb())
