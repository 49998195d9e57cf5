"""Every GraphQL example of README.md and docs/*.md is valid against the contract, and its values are real.

Validity: each operation of each ```graphql block against contract/schema.graphql (or the public
schema, for Cek Bansos blocks). Reality: the first start's demo population (2,000 households,
seed 1) is seeded, every example query runs on it through the HTTP API without an error and finds
what it names; ids, NIKs and KK numbers, which differ between databases, must be variables and are
filled from the households ``siks demo`` / ``siks serve`` print.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from graphql import (
    ArgumentNode,
    FieldNode,
    GraphQLID,
    ObjectFieldNode,
    OperationType,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    ValueNode,
    VariableNode,
    Visitor,
    get_named_type,
    print_ast,
    validate,
    visit,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.auth.users import create_api_key, create_user
from core.demo import seed_demo
from core.demo.samples import HouseholdSample, household_samples
from core.foundation.settings import Settings
from core.regions.codes import within
from core.runtime.bootstrap import DEMO_SEED
from core.storage.db import write_transaction
from core.storage.records import HOUSEHOLDS, REGIONS
from tests.conftest import GraphQLClient
from tests.graphql_examples import Block, Example, blocks, contract_schema, examples

ALL_EXAMPLES = [example for block in blocks() for example in examples(block)]
#: Arguments whose values differ between databases (besides every argument of type ID).
UNREPRODUCIBLE = {"nik", "niks", "kkNumber"}
#: Arguments naming a region that must hold demo households for the example to show anything.
POPULATED_REGION = {("households", "regionCode"), ("cekBansos", "villageCode"), ("recap", "regionCode")}
REGION_ARGUMENTS = {"code", "regionCode", "villageCode", "parentCode"}
#: Root fields a fresh demo answers with an empty list (no welfare model is trained on a first start).
EMPTY_ON_A_FIRST_START = {"welfareModels"}
#: Root fields a fresh demo answers with null: no identity check has run (tests/test_identity_docs.py runs one).
NULL_ON_A_FIRST_START = {"identityRunSummary"}
FIRST_START_HOUSEHOLDS = Settings.model_fields["demo_households"].default


def test_the_documents_have_examples_of_both_schemas() -> None:
    assert len(ALL_EXAMPLES) >= 10
    assert {example.schema for example in ALL_EXAMPLES} == {"main", "public"}
    assert any(e.block.path.name == "integrators.md" for e in ALL_EXAMPLES)


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=lambda example: f"{example.where}")
def test_example_is_valid_against_the_contract(example: Example) -> None:
    errors = validate(contract_schema(example.schema), example.document)
    assert not errors, f"{example.where} ({example.schema} schema): {[error.message for error in errors]}"


def test_a_wrong_example_is_caught_and_a_cek_bansos_block_is_checked_against_the_public_schema(tmp_path: Any) -> None:
    document = tmp_path / "doc.md"
    document.write_text(
        '```graphql\n{ cekBansos(villageCode: "32.01.11.2001", fullName: "Neneng Mulyani") { found } }\n```\n\n'
        "```graphql\n{ households { totlCount } }\n```\n\n"
        '```graphql public\n{ recap(regionCode: "32") { households } }\n```\n',
        encoding="utf-8",
    )
    public, wrong, marked = (examples(block)[0] for block in blocks((document,)))
    assert public.schema == "public" and marked.schema == "public" and wrong.schema == "main"
    assert not validate(contract_schema("public"), public.document)
    assert [e.message for e in validate(contract_schema("main"), wrong.document)] == [
        "Cannot query field 'totlCount' on type 'HouseholdConnection'. Did you mean 'totalCount'?"
    ]


# --- the examples' values in the first start's demo population ------------------------------------


@pytest.fixture
async def first_start_demo(db: AsyncEngine) -> list[HouseholdSample]:
    await seed_demo(db, FIRST_START_HOUSEHOLDS, DEMO_SEED, progress=False)
    async with db.connect() as conn:
        return await household_samples(conn)


@dataclass(frozen=True, slots=True)
class Written:
    """A value written into an example: the field, the argument or input field, the value node, whether an ID."""

    field: str
    name: str
    value: ValueNode
    is_id: bool


def written_values(example: Example) -> list[Written]:
    """Every argument and input-object field the example writes, at any depth."""
    type_info = TypeInfo(contract_schema(example.schema))
    found: list[Written] = []

    def field_of(ancestors: Any) -> str:
        return next((a.name.value for a in reversed(ancestors) if isinstance(a, FieldNode)), "")

    class Values(Visitor):
        def enter_argument(self, node: ArgumentNode, _key: Any, _parent: Any, _path: Any, ancestors: Any) -> None:
            argument = type_info.get_argument()
            is_id = argument is not None and get_named_type(argument.type) is GraphQLID
            found.append(Written(field_of(ancestors), node.name.value, node.value, is_id))

        def enter_object_field(
            self, node: ObjectFieldNode, _key: Any, _parent: Any, _path: Any, ancestors: Any
        ) -> None:
            input_type = type_info.get_input_type()
            is_id = input_type is not None and get_named_type(input_type) is GraphQLID
            found.append(Written(field_of(ancestors), node.name.value, node.value, is_id))

    visit(example.document, TypeInfoVisitor(type_info, Values()))
    return found


async def test_example_values_are_variables_or_exist_in_the_first_start_demo(
    db: AsyncEngine, first_start_demo: list[HouseholdSample]
) -> None:
    problems = []
    async with db.connect() as conn:
        for example in ALL_EXAMPLES:
            for written in written_values(example):
                where, name, node = f"{example.where}: {written.field}({written.name}:)", written.name, written.value
                unreproducible = written.is_id or name in UNREPRODUCIBLE
                if unreproducible and not isinstance(node, VariableNode):
                    problems.append(f"{where} must be a variable: its values differ in every database")
                if not isinstance(node, StringValueNode) or name not in REGION_ARGUMENTS:
                    continue
                region = await conn.scalar(select(REGIONS.c.name).where(REGIONS.c.code == node.value))
                if region is None:
                    problems.append(f"{where} {node.value} is no region")
                elif (written.field, name) in POPULATED_REGION:
                    households = await conn.scalar(
                        select(func.count())
                        .select_from(HOUSEHOLDS)
                        .where(within(HOUSEHOLDS.c.village_code, node.value))
                    )
                    if not households:
                        problems.append(f"{where} the demo has no households in {node.value} ({region})")
    assert not problems, problems


def variables_for(example: Example, samples: list[HouseholdSample]) -> dict[str, Any]:
    """The example's variables, filled from the printed demo households."""
    known: dict[str, Any] = {
        "id": samples[0].global_id,
        "nik": samples[0].head_nik,
        "niks": [sample.head_nik for sample in samples] + ["3201010101010001"],
        "kkNumber": samples[0].kk_number,
    }
    variables: dict[str, Any] = {}
    for definition in example.operation.variable_definitions or ():
        name = definition.variable.name.value
        if name in known:
            variables[name] = known[name]
        elif definition.type.kind == "non_null_type":
            pytest.fail(f"{example.where}: no demo value for the required variable ${name}; add one to the test")
    return variables


QUERIES = [example for example in ALL_EXAMPLES if example.operation.operation is OperationType.QUERY]


async def run(example: Example, http: httpx.AsyncClient, callers: dict[str, GraphQLClient], variables: Any) -> Any:
    """The example's data, asked as its readers would: the public anonymously, integrators with an API key."""
    query = print_ast(example.document)
    if example.schema == "public":
        body = (await http.post("/public/graphql", json={"query": query, "variables": variables})).json()
    else:
        caller = callers["integrator" if example.block.path.name == "integrators.md" else "data_centre"]
        body = await caller.raw(query, variables)
    assert "errors" not in body, f"{example.where}: {body['errors']}"
    return body["data"]


async def integrator_key(db: AsyncEngine) -> str:
    async with write_transaction(db) as conn:
        await create_user(conn, "bpjs", "integrator-password", "integrator", "")
        key, _prefix = await create_api_key(conn, "bpjs", "PKS 12/2026")
    return key


async def test_example_queries_run_on_the_first_start_demo_and_find_what_they_name(
    db: AsyncEngine, client: httpx.AsyncClient, gql: GraphQLClient, first_start_demo: list[HouseholdSample]
) -> None:
    assert len(first_start_demo) == 3
    callers = {"data_centre": gql, "integrator": GraphQLClient(client, {"X-API-Key": await integrator_key(db)})}
    for example in QUERIES:
        data = await run(example, client, callers, variables_for(example, first_start_demo))
        for field, value in data.items():
            assert value is not None or field in NULL_ON_A_FIRST_START, f"{example.where}: {field} found nothing"
            assert value != [] or field in EMPTY_ON_A_FIRST_START, f"{example.where}: {field} found nothing"
        if "cekBansos" in data:
            assert data["cekBansos"]["found"], f"{example.where}: nobody of that name in that village"
        if "households" in data:
            assert data["households"]["totalCount"] > 0, f"{example.where}: no households"
        if "recap" in data:
            assert data["recap"]["households"] > 0, f"{example.where}: an empty region"
        if "eligibility" in data:
            assert data["eligibility"]["found"] and data["eligibility"]["programs"], example.where
        if "eligibilityBatch" in data:
            assert [answer["found"] for answer in data["eligibilityBatch"]] == [True, True, True, False]


def test_block_where_names_the_operation_line() -> None:
    block = Block(blocks()[0].path, 10, "\n{ me { username } }\n", False)
    assert examples(block)[0].where.endswith(":12")
