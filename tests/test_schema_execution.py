"""The planning execution context answers exactly what graphql-core's own execution answers."""

from __future__ import annotations

import asyncio
import math
from enum import Enum
from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from core.schema.execution import TURN_ITEMS, PlanningExecutionContext


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class Thing:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


@strawberry.type
class Leaf:
    name: str
    size: int
    weight: float
    colour: Colour
    maybe: str | None


@strawberry.type
class Branch:
    id: strawberry.ID
    label: str
    leaves: list[Leaf]
    best: Leaf | None

    @strawberry.field
    def shout(self) -> str:
        return self.label.upper()  # type: ignore[attr-defined]


def good_leaf(n: int) -> Thing:
    return Thing(name=f"leaf {n}", size=n, weight=n / 2, colour="red" if n % 2 else Colour.BLUE, maybe=None)


BRANCHES: dict[str, list[Thing]] = {
    "good": [Thing(id=n, label=f"b{n}", leaves=[good_leaf(i) for i in range(3)], best=good_leaf(9)) for n in range(4)],
    "null_in_non_null": [Thing(id=1, label=None, leaves=[], best=None)],
    "null_leaf_in_list": [
        Thing(
            id=1,
            label="x",
            leaves=[good_leaf(1), Thing(name=None, size=1, weight=1.0, colour="red", maybe=None)],
            best=None,
        )
    ],
    "bad_enum": [
        Thing(id=1, label="x", leaves=[Thing(name="a", size=1, weight=1.0, colour="green", maybe="m")], best=None)
    ],
    "nan_float": [
        Thing(id=1, label="x", leaves=[Thing(name="a", size=1, weight=math.nan, colour="red", maybe=None)], best=None)
    ],
    "huge_int": [
        Thing(id=1, label="x", leaves=[Thing(name="a", size=2**40, weight=1.0, colour="red", maybe=None)], best=None)
    ],
    "int_as_string": [
        Thing(id=1, label=5, leaves=[Thing(name=7, size=True, weight=3, colour="blue", maybe=1)], best=None)
    ],
}


@strawberry.type
class Query:
    @strawberry.field
    def branches(self, case: str) -> list[Branch]:
        return BRANCHES[case]  # type: ignore[return-value]


QUERIES = [
    "query($case: String!) { branches(case: $case) { id label leaves { name size weight colour maybe } } }",
    "query($case: String!) { branches(case: $case) { __typename a: label b: label leaves { __typename n: name } } }",
    """query($case: String!, $yes: Boolean!) { branches(case: $case) { ...F best { ... on Leaf { name @include(if: $yes)
       colour @skip(if: $yes) } } } } fragment F on Branch { id leaves { size } }""",
    "query($case: String!) { branches(case: $case) { label shout leaves { name } } }",
]


def run(context: type, query: str, case: str) -> dict[str, Any]:
    schema = strawberry.Schema(query=Query, execution_context_class=context)
    result = schema.execute_sync(query, variable_values={"case": case, "yes": True})
    return {
        "data": result.data,
        "errors": sorted((e.message, tuple(e.path or ())) for e in result.errors or []),
    }


@pytest.mark.parametrize("case", sorted(BRANCHES))
@pytest.mark.parametrize("query", QUERIES)
def test_same_answer_as_graphql_core(query: str, case: str) -> None:
    assert run(PlanningExecutionContext, query, case) == run(StrawberryGraphQLCoreExecutionContext, query, case)


def test_good_data_has_no_errors_and_uses_enum_names() -> None:
    answer = run(PlanningExecutionContext, QUERIES[0], "good")
    assert answer["errors"] == []
    assert answer["data"]["branches"][0]["leaves"][1]["colour"] == "RED"
    assert answer["data"]["branches"][0]["leaves"][0]["colour"] == "BLUE"


@strawberry.type
class LongQuery:
    @strawberry.field
    async def branches(self, count: int) -> list[Branch | None]:
        """A long list (completed in turns) with bad items among good ones, and some items still to be awaited."""
        bad = BRANCHES["null_in_non_null"][0]
        return [bad if n % 97 == 3 else later(n) if n % 50 == 7 else BRANCHES["good"][n % 4] for n in range(count)]  # type: ignore[misc]


async def later(n: int) -> Thing:
    await asyncio.sleep(0)
    return BRANCHES["good"][n % 4]


async def run_async(context: type, query: str, count: int) -> dict[str, Any]:
    result = await strawberry.Schema(query=LongQuery, execution_context_class=context).execute(
        query, variable_values={"count": count}
    )
    return {"data": result.data, "errors": sorted((e.message, tuple(e.path or ())) for e in result.errors or [])}


@pytest.mark.parametrize("count", [TURN_ITEMS - 1, TURN_ITEMS * 3 + 17])
async def test_a_long_list_completed_in_turns_answers_as_graphql_core(count: int) -> None:
    query = "query($count: Int!) { branches(count: $count) { id label shout leaves { name colour } } }"
    ours = await run_async(PlanningExecutionContext, query, count)
    assert ours == await run_async(StrawberryGraphQLCoreExecutionContext, query, count)
    assert len(ours["data"]["branches"]) == count and ours["errors"]
