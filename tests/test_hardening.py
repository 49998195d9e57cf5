"""GraphQL hardening: every limit with its message, production's switches, body size and time limits."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
import strawberry
from graphql import GraphQLError, parse
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from core.public import lookup
from core.schema import cost, hardening
from core.schema.build import build_schema
from tests.conftest import GraphQLClient
from tests.serving import production, serve

LOOKUP = '{ cekBansos(villageCode: "32.01.01.1001", fullName: "Siti Rosida") { found } }'
ENGLISH = {"accept-language": "en"}  # /public/graphql answers in Indonesian unless asked (tests/test_api_language.py)


@pytest.fixture(scope="module")
def schemas(settings: Settings) -> dict[str, strawberry.Schema]:
    return {"development": build_schema(settings), "production": build_schema(production(settings))}


async def messages(schema: strawberry.Schema, query: str, variables: dict[str, Any] | None = None) -> list[str]:
    """The errors of a document refused before any resolver runs (so no context is needed)."""
    result = await schema.execute(query, variable_values=variables)
    assert result.data is None, result.data
    return [error.message for error in result.errors or []]


def nested(depth: int) -> str:
    return '{ region(code: "32") { ' + "parent { " * depth + "code" + " }" * depth + " } }"


# --- limits -------------------------------------------------------------------------------------


async def test_depth_limit(schemas: dict[str, strawberry.Schema], gql: GraphQLClient) -> None:
    assert await messages(schemas["development"], nested(50)) == ["'anonymous' exceeds maximum operation depth of 10"]
    body = await gql.raw(nested(50))  # the application serves the hardened schema
    assert body["errors"][0]["message"] == "'anonymous' exceeds maximum operation depth of 10"


async def test_alias_limit(schemas: dict[str, strawberry.Schema]) -> None:
    query = "{ " + " ".join(f'r{n}: region(code: "32") {{ code }}' for n in range(100)) + " }"
    assert await messages(schemas["development"], query) == ["100 aliases found. Allowed: 20"]


async def test_token_limit(schemas: dict[str, strawberry.Schema]) -> None:
    query = "{ regions { " + "code name " * 1600 + "} }"
    assert await messages(schemas["development"], query) == [
        "Syntax Error: Document contains more than 3000 tokens. Parsing aborted."
    ]


def cost_of(
    schema: strawberry.Schema, query: str, max_page: int = 1000, variables: dict[str, Any] | None = None
) -> int:
    document = parse(query)
    walk = cost.Walk(document)
    return cost.operation_cost(schema._schema, walk, walk.operations[0], max_page, variables=variables)


def test_cost_is_page_size_times_nested_lists(schemas: dict[str, strawberry.Schema]) -> None:
    schema = schemas["development"]
    page = "{ households(first: 1000) { totalCount edges { node { id members { nik name } } } } }"
    # households 1 + totalCount 1 + edges 1 + 1000 × (node 1 + id 1 + members 1 + 20 × 2): members declare 20
    assert cost_of(schema, page) == 3 + 1000 * 43
    assert cost_of(schema, page.replace("first: 1000", "first: 7")) == 3 + 7 * 43
    assert cost_of(schema, page.replace("(first: 1000)", "")) == 3 + 50 * 43  # the argument's default
    variable = "query P($n: Int!) { households(first: $n) { edges { node { id } } } }"
    assert cost_of(schema, variable) == 2 + 1000 * 2  # unknown until run: the largest page
    assert cost_of(schema, variable.replace("Int!", "Int = 5")) == 2 + 1000 * 2  # a default can be overridden
    assert cost_of(schema, variable, variables={"n": 7}) == 2 + 7 * 2  # the request's value
    assert cost_of(schema, variable.replace("Int!", "Int = 5"), variables={}) == 2 + 5 * 2  # its default
    with_fragment = "{ households(first: 10) { edges { node { ...H } } } } fragment H on Household { id kkNumber }"
    assert cost_of(schema, with_fragment) == 2 + 10 * 3
    assert cost_of(schema, "{ __schema { types { name fields { name } } } }") == 0


async def test_cost_limit(schemas: dict[str, strawberry.Schema]) -> None:
    query = (
        "{ households(first: 1000) { edges { node { members { household { members { household { members { nik } } } }"
        " } } } } }"
    )
    assert await messages(schemas["development"], query) == [
        "'anonymous' costs 8,842,002, more than the limit of 200,000: ask for smaller pages (first), fewer nested "
        "lists or fewer items at once"
    ]


async def test_page_size_limit(gql: GraphQLClient) -> None:
    body = await gql.raw("{ households(first: 5000) { totalCount } }")
    assert body["errors"][0]["message"] == "first: must be between 0 and 1000, not 5000"


async def test_fragment_bombs_are_refused_before_validation_walks_them(schemas: dict[str, strawberry.Schema]) -> None:
    spreads = ['query { region(code: "32") { ...F0 } }']
    spreads += [f"fragment F{n} on Region {{ code ...F{n + 1} ...F{n + 1} }}" for n in range(40)]
    spreads.append("fragment F40 on Region { code }")
    started = time.perf_counter()
    [message] = await messages(schemas["development"], "\n".join(spreads))
    assert time.perf_counter() - started < 2
    assert message.startswith("the document's fragments expand it to ") and message.endswith(
        "fields, more than the limit of 3,000; spread fewer fragments"
    )


async def test_batching_is_off(db: AsyncEngine, settings: Settings) -> None:
    async with serve(settings) as http:
        for path in ("/graphql", "/public/graphql"):
            response = await http.post(path, json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}])
            assert response.status_code == 400
            assert response.json() == {
                "errors": [{"message": "Batching is not enabled", "extensions": {"code": "BAD_REQUEST"}}]
            }


# --- production mode ----------------------------------------------------------------------------


async def test_production_has_no_introspection(schemas: dict[str, strawberry.Schema]) -> None:
    disabled = "GraphQL introspection has been disabled, but the requested query contained the field '{}'."
    for query, fields in [
        ("{ __schema { queryType { name } } }", ["__schema", "queryType"]),
        ('{ __type(name: "Query") { name } }', ["__type"]),
    ]:
        assert await messages(schemas["production"], query) == [disabled.format(field) for field in fields]
        assert (await schemas["development"].execute(query)).errors is None


@pytest.mark.parametrize(
    ("query", "variables", "production_message"),
    [
        ("{ householdz { totalCount } }", None, "Cannot query field 'householdz' on type 'Query'."),
        ("{ regions(levl: PROVINCE) { code } }", None, "Unknown argument 'levl' on field 'Query.regions'."),
        ("{ regions(level: PROVINCEE) { code } }", None, "Value 'PROVINCEE' does not exist in 'RegionLevel' enum."),
        (
            "query R($level: RegionLevel) { regions(level: $level) { code } }",
            {"level": "PROVINCEE"},
            "Variable '$level' has invalid value: Value 'PROVINCEE' does not exist in 'RegionLevel' enum.",
        ),
    ],
)
async def test_production_gives_no_suggestions(
    schemas: dict[str, strawberry.Schema], query: str, variables: dict[str, Any] | None, production_message: str
) -> None:
    assert await messages(schemas["production"], query, variables) == [production_message]
    [development] = await messages(schemas["development"], query, variables)
    assert "Did you mean" in development


async def test_production_serves_no_graphiql(db: AsyncEngine, settings: Settings) -> None:
    for mode_settings, served in [(settings, True), (production(settings), False)]:
        async with serve(mode_settings) as http:
            for path in ("/graphql", "/public/graphql"):
                response = await http.get(path, headers={"accept": "text/html"})
                assert ("GraphiQL" in response.text) is served, (mode_settings.mode, path)
                assert served or response.status_code == 404


async def test_production_masks_internal_errors_only(
    db: AsyncEngine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("connection to db-primary.internal:5432 refused (password=hunter2)")

    monkeypatch.setattr(lookup, "cek_bansos", broken)
    async with serve(production(settings)) as http:
        response = await http.post("/public/graphql", json={"query": LOOKUP}, headers=ENGLISH)
        assert response.status_code == 200
        assert response.json()["errors"][0]["message"] == hardening.INTERNAL_ERROR
        assert "hunter2" not in response.text and "db-primary" not in response.text
        on_purpose = await http.post(
            "/public/graphql", json={"query": LOOKUP.replace("32.01.01.1001", "32.01")}, headers=ENGLISH
        )
        assert on_purpose.json()["errors"][0]["message"].startswith("villageCode: give the dotted Kemendagri code")
        invalid = await http.post("/public/graphql", json={"query": '{ cekBansos(fullName: "Siti") { found } }'})
        assert invalid.json()["errors"][0]["message"] == (
            "Argument 'Query.cekBansos(villageCode:)' of type 'String!' is required, but it was not provided."
        )
    async with serve(settings) as http:  # development shows the error, to the developer
        response = await http.post("/public/graphql", json={"query": LOOKUP})
        assert "hunter2" in response.json()["errors"][0]["message"]


async def test_only_internal_errors_are_logged(
    db: AsyncEngine, settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(settings) as http:
        with caplog.at_level(logging.DEBUG, logger="strawberry.execution"):
            await http.post("/graphql", json={"query": "{ regions(level: PROVINCE) { code } }"})  # no caller
            await http.post("/public/graphql", json={"query": LOOKUP.replace("32.01.01.1001", "32.01")})
            await http.post("/public/graphql", json={"query": "{ nothingHere }"})
        assert [record for record in caplog.records if record.name == "strawberry.execution"] == []

        async def broken(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("the lookup broke")

        monkeypatch.setattr(lookup, "cek_bansos", broken)
        with caplog.at_level(logging.DEBUG, logger="strawberry.execution"):
            await http.post("/public/graphql", json={"query": LOOKUP})
        logged = [record for record in caplog.records if record.name == "strawberry.execution"]
        assert len(logged) == 1 and logged[0].levelno == logging.ERROR and "the lookup broke" in logged[0].getMessage()


def test_only_errors_from_resolvers_that_are_not_graphql_errors_are_internal() -> None:
    assert hardening.is_internal(GraphQLError("boom", path=["a"], original_error=KeyError("x")))
    assert not hardening.is_internal(GraphQLError("first: too large", path=["a"], original_error=GraphQLError("x")))
    assert not hardening.is_internal(GraphQLError("Cannot query field 'x' on type 'Query'."))
    assert not hardening.is_internal(GraphQLError("Variable '$d' got invalid value", original_error=ValueError()))


# --- HTTP limits --------------------------------------------------------------------------------


async def test_a_10_mb_body_is_refused_with_413(db: AsyncEngine, settings: Settings) -> None:
    body = ('{"query": "{ regions { code } }", "variables": {"padding": "' + "x" * 10 * 1024 * 1024 + '"}}').encode()

    async def chunks() -> Any:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    async with serve(settings) as http:
        for path in ("/graphql", "/public/graphql"):
            headers = {"content-type": "application/json", **ENGLISH}
            declared = await http.post(path, content=body, headers=headers)
            streamed = await http.post(path, content=chunks(), headers=headers)
            for response in (declared, streamed):
                assert response.status_code == 413
                assert response.json() == {
                    "errors": [
                        {
                            "message": "the request body is larger than the limit of 1,048,576 bytes; send a shorter "
                            "query, fewer variables or several smaller requests",
                            "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                        }
                    ]
                }


async def test_a_request_over_the_time_limit_is_stopped_with_503(
    db: AsyncEngine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def slow(*_args: object, **_kwargs: object) -> None:
        await asyncio.sleep(10)

    monkeypatch.setattr(lookup, "cek_bansos", slow)
    async with serve(settings.model_copy(update={"request_timeout_seconds": 0.3})) as http:
        started = time.perf_counter()
        response = await http.post("/public/graphql", json={"query": LOOKUP}, headers=ENGLISH)
        assert time.perf_counter() - started < 3
        assert response.status_code == 503
        assert response.json()["errors"][0]["message"] == (
            "the request took longer than the limit of 0.3 s and was stopped; ask for less at once (smaller pages, "
            "fewer nested lists)"
        )
        assert (await http.get("/health")).status_code == 200
