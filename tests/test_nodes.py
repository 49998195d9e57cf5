"""Query.node / Query.nodes (core/schema/nodes.py): every Node type by global id, within the caller's region and
Casbin policy exactly as the type's own query, audited like any read, and each type read in one batch."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from graphql import GraphQLInterfaceType
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import FloorMaterial
from core.foundation.settings import Settings
from core.programs.cycles import CycleRecord, run_cycle
from core.programs.queries import ENROLLMENTS
from core.schema.build import build_schema
from core.schema.global_ids import encode
from core.schema.nodes import MAX_NODES
from core.storage.db import write_transaction
from core.verification import chain, determination, proposals
from core.verification.drafts import ChangeRequest
from tests import factories
from tests.conftest import GraphQLClient, token_headers
from tests.grievance_support import Planted, filed
from tests.photo_files import jpeg_with_gps
from tests.programs_support import builtin_registry, poor_household, rank, register
from tests.test_fieldwork import CREATE_ROUND, RECORD, upload, visit_input
from tests.test_plugins_kube import FORM, clean
from tests.test_schema_households import count_statements
from tests.verification_support import CHAIN_SCOPES, REVIEWERS, officer, registered

OUTSIDE = "32.01.02"  # Gunungputri: a district next to the world's village (Cibinong)
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


@dataclass
class World:
    """One record of every Node type, in factories.VILLAGE: type name → global id as the API answered it."""

    ids: dict[str, str]
    households: list[Any]


async def make_world(
    db: AsyncEngine, gql: GraphQLClient, as_role: Any, client: httpx.AsyncClient, settings: Settings
) -> World:
    await clean(db)  # KUBe's tables are the plugin's own
    households = await registered(db, 5)
    village = officer("village_operator")
    async with write_transaction(db) as conn:
        proposal = await proposals.propose_change(
            conn,
            village,
            households[0].id,
            households[0].version,
            ChangeRequest(household={"floor_material": FloorMaterial.CERAMIC}),
        )
    for role in REVIEWERS:
        async with write_transaction(db) as conn:
            await chain.approve(conn, officer(role), [proposal.id])
    async with write_transaction(db) as conn:
        done = await determination.determine(conn, officer("data_centre"), f"DTKS {secrets.token_hex(3)}", "2026-12")
    assert isinstance(done, determination.Determined), done

    [poor] = await register(db, [poor_household()])
    await rank(db, {poor: (1, -2.0)})
    cycle = await run_cycle(db, builtin_registry(), "bpnt", "2026-03", factories.VILLAGE, "tester")
    assert isinstance(cycle, CycleRecord), cycle
    async with db.connect() as conn:
        enrollment = (
            await conn.execute(select(ENROLLMENTS.c.id).where(ENROLLMENTS.c.cycle_id == cycle.id))
        ).scalar_one()

    created = await as_role("regency_office", "32.01")(CREATE_ROUND, {"codes": ["32.01.01"], "period": "2026-Q4"})
    round_id = created["createVerificationRound"]["id"]
    recorded = await as_role("village_operator", CHAIN_SCOPES["village_operator"])(
        RECORD, {"input": visit_input(round_id, households[1])}
    )
    visit_id = recorded["recordVisit"]["visit"]["id"]
    headers = token_headers(settings, "village_operator", CHAIN_SCOPES["village_operator"])
    photo = (await upload(client, headers, visit_id, "ROOF", jpeg_with_gps(), "atap.jpg", "image/jpeg")).json()
    group = (await gql(FORM, {"village": factories.VILLAGE, "ids": [str(h.id) for h in households]}))["formKubeGroup"]
    assert group["__typename"] == "KubeGroup", group
    from tests.test_authorization_walker import duplicate_pair

    pair = await duplicate_pair(db, [households[0].id, households[1].id])
    member = households[2].members[0]
    grievance = await filed(db, Planted(households[3].id, households[3].members[0].id))
    return World(
        ids={
            "Household": encode("Household", households[0].id),
            "Member": encode("Member", member.id),
            "Proposal": encode("Proposal", proposal.id),
            "DtksEdition": encode("DtksEdition", done.edition.id),
            "ProgramCycle": encode("ProgramCycle", cycle.id),
            "Enrollment": encode("Enrollment", enrollment),
            "VerificationRound": round_id,
            "Visit": visit_id,
            "VisitPhoto": photo["data"]["uploadVisitPhoto"]["id"],
            "KubeGroup": group["id"],
            "Region": encode("Region", factories.VILLAGE),
            "DuplicateCandidate": encode("DuplicateCandidate", pair),
            "Grievance": encode("Grievance", grievance),
        },
        households=households,
    )


@pytest.fixture
async def world(
    db: AsyncEngine, gql: GraphQLClient, as_role: Any, client: httpx.AsyncClient, settings: Settings
) -> Any:
    made = await make_world(db, gql, as_role, client, settings)
    yield made
    await clean(db)


def test_the_world_holds_every_type_that_implements_node() -> None:
    schema = build_schema()._schema
    node = schema.get_type("Node")
    assert isinstance(node, GraphQLInterfaceType)
    implementations = {t.name for t in schema.get_possible_types(node)}
    assert implementations == set(EVERY_TYPE)  # a new Node type joins the world below, and these tests


EVERY_TYPE = (
    "Household",
    "Member",
    "Proposal",
    "DtksEdition",
    "ProgramCycle",
    "Enrollment",
    "VerificationRound",
    "Visit",
    "VisitPhoto",
    "KubeGroup",
    "Region",
    "DuplicateCandidate",
    "Grievance",
)


async def test_node_and_nodes_answer_every_type_by_its_global_id(world: World, gql: GraphQLClient) -> None:
    assert set(world.ids) == set(EVERY_TYPE)
    for type_name, global_id in world.ids.items():
        assert (await gql(NODE, {"id": global_id}))["node"] == {"__typename": type_name, "id": global_id}
    ordered = [world.ids[name] for name in EVERY_TYPE]
    found = (await gql(NODES, {"ids": [*ordered, "nonsense", encode("Household", 1)]}))["nodes"]
    assert found == [*({"__typename": n, "id": world.ids[n]} for n in EVERY_TYPE), None, None]


async def test_ids_returned_by_fields_are_global_and_lead_back_to_their_records(
    world: World, gql: GraphQLClient
) -> None:
    proposal = (
        await gql(
            "query($id: ID!) { node(id: $id) { ... on Proposal { householdId household { id members { id } } } } }",
            {"id": world.ids["Proposal"]},
        )
    )["node"]
    assert proposal["householdId"] == proposal["household"]["id"] == world.ids["Household"]
    visit = await gql("query($id: ID!) { visit(id: $id) { roundId householdId } }", {"id": world.ids["Visit"]})
    assert visit["visit"]["roundId"] == world.ids["VerificationRound"]
    assert (await gql(NODE, {"id": visit["visit"]["householdId"]}))["node"]["__typename"] == "Household"
    member_id = proposal["household"]["members"][0]["id"]
    assert (await gql(NODE, {"id": member_id}))["node"] == {"__typename": "Member", "id": member_id}


async def test_outside_the_region_node_answers_null_as_the_types_own_query(world: World, as_role: Any) -> None:
    outside = as_role("district_officer", OUTSIDE)
    inside = as_role("district_officer", "32.01.01")
    for type_name in ("Household", "Member", "Proposal", "Visit", "VisitPhoto", "Enrollment", "KubeGroup"):
        global_id = world.ids[type_name]
        assert (await inside(NODE, {"id": global_id}))["node"] is not None, type_name
        assert (await outside(NODE, {"id": global_id}))["node"] is None, type_name
    own = await outside("query($id: ID!) { household(id: $id) { id } }", {"id": world.ids["Household"]})
    assert own["household"] is None  # the same answer the type's own query gives
    assert (await outside(NODES, {"ids": [world.ids["Household"], world.ids["Region"]]}))["nodes"] == [
        None,
        {"__typename": "Region", "id": world.ids["Region"]},  # the hierarchy is everyone's, as regions() is
    ]


async def test_a_role_without_the_types_permission_gets_nothing_through_node(world: World, as_role: Any) -> None:
    program = as_role("program_officer", "32.01")  # may read households, not proposals
    assert (await program(NODE, {"id": world.ids["Proposal"]}))["node"] is None
    assert (await program(NODE, {"id": world.ids["Household"]}))["node"] is not None
    body = await program.raw(
        "query($id: ID!) { node(id: $id) { ... on Proposal { status } } }", {"id": world.ids["Proposal"]}
    )
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    body = await program.raw(
        "query($id: ID!) { node(id: $id) { ... on Household { members { nik } } } }", {"id": world.ids["Household"]}
    )
    assert body["data"] is None and "Member.nik" in body["errors"][0]["extensions"]["fields"], body
    integrator = as_role("integrator")
    assert (await integrator(NODES, {"ids": list(world.ids.values())}))["nodes"] == [None] * len(world.ids)


async def test_personal_fields_read_through_node_are_audited(
    world: World, client: httpx.AsyncClient, settings: Settings, as_role: Any
) -> None:
    username = f"node-reader-{secrets.token_hex(4)}"
    reader = GraphQLClient(client, token_headers(settings, "district_officer", "32.01.01", username=username))
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Household { kkNumber } ... on Member { name } } }"
    await reader(query, {"ids": [world.ids["Household"], encode("Household", world.households[3].id)]})
    rows = (
        await as_role("auditor")(
            """query($actor: String) { auditLog(operation: "read:personal", actor: $actor) { entityId after } }""",
            {"actor": username},
        )
    )["auditLog"]
    assert len(rows) == 1, rows
    assert rows[0]["after"]["households"] == sorted([world.households[0].id, world.households[3].id])
    assert rows[0]["after"]["fields"] == ["Household.kkNumber"]
    outside = GraphQLClient(client, token_headers(settings, "district_officer", OUTSIDE, username=username + "-x"))
    assert (await outside(query, {"ids": [world.ids["Household"]]}))["nodes"] == [None]
    none = (
        await as_role("auditor")(
            """query($actor: String) { auditLog(operation: "read:personal", actor: $actor) { entityId } }""",
            {"actor": username + "-x"},
        )
    )["auditLog"]
    assert none == []  # nothing personal was answered, nothing is recorded


async def test_nodes_reads_each_type_once_whatever_the_number_of_ids(
    world: World, db: AsyncEngine, gql: GraphQLClient
) -> None:
    one = [world.ids["Household"], world.ids["Proposal"]]
    many = [
        *one,
        *(encode("Household", h.id) for h in world.households[1:]),
        *(encode("Proposal", 7 + n) for n in range(5)),
    ]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Household { kkNumber members { nik } } } }"
    with count_statements(db) as few:
        await gql(query, {"ids": one})
    with count_statements(db) as lots:
        found = (await gql(query, {"ids": many}))["nodes"]
    assert len(lots) == len(few), (few, lots)
    assert sum(1 for n in found if n is not None) == 2 + len(world.households) - 1
    households = [n for n in found if n is not None and "kkNumber" in n]
    assert len(households) == len(world.households) and all(len(h["members"]) == 3 for h in households)


async def test_nodes_refuses_more_ids_than_its_bound(gql: GraphQLClient) -> None:
    body = await gql.raw(NODES, {"ids": [encode("Household", n) for n in range(MAX_NODES + 1)]})
    assert body["errors"][0]["message"].startswith(f"ids: at most {MAX_NODES} ids at once"), body


async def test_mutations_take_global_ids_and_legacy_raw_ids_and_refuse_another_types(
    world: World, gql: GraphQLClient
) -> None:
    household = world.households[4]
    update = """mutation($id: ID!, $v: Int!) { updateHousehold(id: $id, version: $v, changes: {rt: "007"}) {
      __typename ... on Household { id version } ... on ValidationError { fields { field message } } } }"""
    by_global = (await gql(update, {"id": encode("Household", household.id), "v": household.version}))[
        "updateHousehold"
    ]
    assert by_global == {
        "__typename": "Household",
        "id": encode("Household", household.id),
        "version": household.version + 1,
    }
    by_raw = (await gql(update, {"id": str(household.id), "v": household.version + 1}))["updateHousehold"]
    assert by_raw["__typename"] == "Household" and by_raw["version"] == household.version + 2
    wrong = (await gql(update, {"id": world.ids["Proposal"], "v": 1}))["updateHousehold"]
    assert wrong == {
        "__typename": "ValidationError",
        "fields": [{"field": "id", "message": "expected the id of a Household, got the id of a Proposal"}],
    }
    garbage = (await gql(update, {"id": "bukan-id", "v": 1}))["updateHousehold"]
    assert garbage["__typename"] == "ValidationError" and garbage["fields"][0]["field"] == "id"
    query = await gql.raw("query($id: ID!) { household(id: $id) { id } }", {"id": world.ids["Member"]})
    assert query["data"] == {"household": None}
    assert query["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "id"}
