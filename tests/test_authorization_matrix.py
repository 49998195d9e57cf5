"""Authorization matrix: every role × where its scope lies relative to a household × every operation.

The expected answer comes from this file's own reading of the policy (ALLOWED below), not from
the enforcer: allowed, forbidden (the role may not), or hidden (the role may, but the record lies
outside the caller's scope, so the API answers as if it did not exist).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.settings import Settings
from core.http.app import create_app
from core.storage.db import write_transaction
from core.storage.records import HOUSEHOLDS
from core.verification.drafts import ChangeRequest
from core.verification.proposals import propose_change
from core.verification.rounds import create_round
from tests import factories
from tests.conftest import GraphQLClient, clear_data, token_headers
from tests.test_disbursements import payments
from tests.verification_support import officer

TARGET_VILLAGE = "32.01.01.1001"
# role → its scope level (4 village .. 1 province, 0 national) in the "own" relation
LEVEL = {
    "village_operator": 4,
    "district_officer": 3,
    "regency_office": 2,
    "province_office": 1,
    "data_centre": 0,
    "program_officer": 2,
    "integrator": 2,
    "auditor": 2,
}
OWN = {4: "32.01.01.1001", 3: "32.01.01", 2: "32.01", 1: "32", 0: ""}
CHILD = {4: None, 3: "32.01.01.1002", 2: "32.01.02", 1: "32.02", 0: "35"}  # inside own, not containing the household
PARENT = {4: "32.01.01", 3: "32.01", 2: "32", 1: "", 0: None}
SIBLING = {4: "32.01.01.1002", 3: "32.01.02", 2: "32.02", 1: "33", 0: None}
OTHER_PROVINCE = {4: "35.78.01.1001", 3: "35.78.01", 2: "35.78", 1: "35", 0: None}
RELATIONS = {"own": OWN, "child": CHILD, "parent": PARENT, "sibling": SIBLING, "other_province": OTHER_PROVINCE}
CONTAINS_TARGET = {"own": True, "child": False, "parent": True, "sibling": False, "other_province": False}

#: What each role may do, as the base policy in policies/ says (object, action).
#: The KUBe plugin's lines (siks_extra_policies) add kube_group rights to these roles.
KUBE = {
    "village_operator": {("kube_group", "read")},
    "district_officer": {("kube_group", "read")},
    "regency_office": {("kube_group", "read"), ("kube_group", "write")},
    "data_centre": {("kube_group", "read"), ("kube_group", "write")},
}
ALLOWED: dict[str, set[tuple[str, str]]] = {
    "village_operator": {
        ("proposal", "read"),
        ("proposal", "propose"),
        ("proposal", "review"),
        ("verification_round", "read"),
        ("visit", "read"),
        ("visit", "write"),
        ("dtks_edition", "read"),
        ("household", "read"),
        ("household", "write"),
        ("member", "read"),
        ("member", "write"),
        ("enrollment", "read"),
        ("region", "read"),
    },
    "district_officer": {
        ("proposal", "read"),
        ("proposal", "review"),
        ("verification_round", "read"),
        ("visit", "read"),
        ("visit", "write"),
        ("dtks_edition", "read"),
        ("household", "read"),
        ("household", "write"),
        ("member", "read"),
        ("member", "write"),
        ("enrollment", "read"),
        ("region", "read"),
    },
    "regency_office": {
        ("proposal", "read"),
        ("proposal", "review"),
        ("verification_round", "read"),
        ("verification_round", "write"),
        ("visit", "read"),
        ("dtks_edition", "read"),
        ("household", "read"),
        ("household", "write"),
        ("member", "read"),
        ("member", "write"),
        ("enrollment", "read"),
        ("disbursement", "read"),
        ("quota", "read"),
        ("region", "read"),
    },
    "province_office": {
        ("proposal", "read"),
        ("proposal", "review"),
        ("verification_round", "read"),
        ("verification_round", "write"),
        ("visit", "read"),
        ("dtks_edition", "read"),
        ("household", "read"),
        ("household", "write"),
        ("member", "read"),
        ("member", "write"),
        ("enrollment", "read"),
        ("disbursement", "read"),
        ("quota", "read"),
        ("region", "read"),
    },
    "data_centre": {
        ("proposal", "read"),
        ("proposal", "review"),
        ("verification_round", "read"),
        ("verification_round", "write"),
        ("visit", "read"),
        ("dtks_edition", "read"),
        ("dtks_edition", "determine"),
        ("household", "read"),
        ("household", "write"),
        ("member", "read"),
        ("member", "write"),
        ("enrollment", "read"),
        ("program", "read"),
        ("program", "write"),
        ("quota", "read"),
        ("quota", "write"),
        ("cycle", "read"),
        ("cycle", "run"),
        ("cycle", "approve"),
        ("disbursement", "read"),
        ("disbursement", "write"),
        ("welfare_model", "read"),
        ("welfare_model", "write"),
        ("eligibility", "read"),
        ("user", "read"),
        ("user", "write"),
        ("region", "read"),
    },
    "program_officer": {
        ("dtks_edition", "read"),
        ("household", "read"),
        ("enrollment", "read"),
        ("program", "read"),
        ("quota", "read"),
        ("quota", "write"),
        ("cycle", "read"),
        ("cycle", "run"),
        ("disbursement", "read"),
        ("disbursement", "write"),
        ("region", "read"),
    },
    "integrator": {("eligibility", "read")},
    "auditor": {("audit", "read"), ("region", "read")},
}


@dataclass
class World:
    household_id: str
    nik: str
    member_id: str
    reference: str
    district: str
    proposal_id: str
    round_id: str


@dataclass(frozen=True)
class Operation:
    name: str
    needs: tuple[tuple[str, str], ...]
    scoped: bool  # does the target's region matter?
    run: Callable[[GraphQLClient, GraphQLClient, World], Awaitable[str]]


def forbidden(body: dict[str, Any]) -> bool:
    return any(e.get("extensions", {}).get("code") == "FORBIDDEN" for e in body.get("errors", []))


def judge(body: dict[str, Any], visible: Callable[[dict[str, Any]], bool]) -> str:
    if forbidden(body):
        return "forbidden"
    assert "errors" not in body, body["errors"]
    return "allowed" if visible(body["data"]) else "hidden"


async def current_version(admin: GraphQLClient, world: World) -> int:
    data = await admin("query($id: ID!) { household(id: $id) { version } }", {"id": world.household_id})
    return int(data["household"]["version"])


async def op_households(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw("{ households(first: 100) { edges { node { id } } } }")
    return judge(
        body, lambda d: world.household_id in {factories.key_of(e["node"]["id"]) for e in d["households"]["edges"]}
    )


async def op_household(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw("query($id: ID!) { household(id: $id) { id } }", {"id": world.household_id})
    return judge(body, lambda d: d["household"] is not None)


async def op_person(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw("query($nik: String!) { person(nik: $nik) { name } }", {"nik": world.nik})
    return judge(body, lambda d: d["person"] is not None)


async def op_enrollments(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw(
        "query($id: ID!) { household(id: $id) { programs { enrollments { period } } } }", {"id": world.household_id}
    )
    return judge(body, lambda d: d["household"] is not None and len(d["household"]["programs"]["enrollments"]) == 1)


async def op_eligibility(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw("query($nik: String!) { eligibility(nik: $nik) { found } }", {"nik": world.nik})
    return judge(body, lambda d: d["eligibility"]["found"])


async def op_reconciliation(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw('{ reconciliation(program: "bpnt") { regionCode } }')
    return judge(body, lambda d: {"regionCode": "32.01"} in d["reconciliation"])


async def op_regions(caller: GraphQLClient, _admin: GraphQLClient, _world: World) -> str:
    return judge(await caller.raw("{ regions { code } }"), lambda d: len(d["regions"]) == 38)


async def op_audit(caller: GraphQLClient, _admin: GraphQLClient, _world: World) -> str:
    return judge(await caller.raw("{ auditLog(first: 1) { seq } }"), lambda d: True)


async def op_update_household(caller: GraphQLClient, admin: GraphQLClient, world: World) -> str:
    body = await caller.raw(
        "mutation($id: ID!, $v: Int!) { updateHousehold(id: $id, version: $v, changes: {livestockCount: 2}) "
        "{ __typename } }",
        {"id": world.household_id, "v": await current_version(admin, world)},
    )
    return judge(body, lambda d: d["updateHousehold"]["__typename"] == "Household")


async def op_update_member(caller: GraphQLClient, admin: GraphQLClient, world: World) -> str:
    body = await caller.raw(
        "mutation($id: ID!, $v: Int!, $m: ID!) { updateMember(householdId: $id, version: $v, memberId: $m, "
        "changes: {occupation: FARMER}) { __typename } }",
        {"id": world.household_id, "v": await current_version(admin, world), "m": world.member_id},
    )
    return judge(body, lambda d: d["updateMember"]["__typename"] == "Household")


async def op_register(caller: GraphQLClient, _admin: GraphQLClient, _world: World) -> str:
    body = await caller.raw(
        "mutation($input: HouseholdInput!) { registerHousehold(input: $input) { __typename } }",
        {"input": factories.household_input(factories.household(TARGET_VILLAGE))},
    )
    return judge(body, lambda d: d["registerHousehold"]["__typename"] == "Household")


async def op_update_disbursements(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw(
        'mutation($r: String!) { updateDisbursements(updates: [{reference: $r, status: "disbursed"}]) { __typename } }',
        {"r": world.reference},
    )
    return judge(body, lambda d: d["updateDisbursements"]["__typename"] == "DisbursementUpdateSummary")


async def op_set_quota(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw(
        'mutation($r: String!) { setProgramQuota(program: "bpnt", period: "2026-04", regionCode: $r, quota: 10) '
        "{ __typename } }",
        {"r": world.district},
    )
    return judge(body, lambda d: d["setProgramQuota"]["__typename"] == "ProgramQuota")


async def op_preview_cycle(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw(
        'query($r: String!) { programCyclePreview(program: "bpnt", period: "2026-04", regionCode: $r) { __typename } }',
        {"r": world.district},
    )
    return judge(body, lambda d: d["programCyclePreview"]["__typename"] == "CyclePreview")


async def op_welfare_models(caller: GraphQLClient, _admin: GraphQLClient, _world: World) -> str:
    return judge(await caller.raw("{ welfareModels { version } }"), lambda d: True)


async def op_activate_model(caller: GraphQLClient, _admin: GraphQLClient, _world: World) -> str:
    body = await caller.raw('mutation { activateWelfareModel(version: "no-such-model") { __typename } }')
    return judge(body, lambda d: d["activateWelfareModel"]["__typename"] == "NotFound")


async def op_double_recipients(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw(
        'query($r: String!) { doubleRecipients(regionCode: $r, period: "2026-03") { __typename } }',
        {"r": world.district},
    )
    return judge(body, lambda d: d["doubleRecipients"]["__typename"] == "DoubleRecipientReportType")


async def op_run_cycle(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw(
        'mutation($r: String!) { runProgramCycle(program: "bpnt", period: "2026-05", regionCode: $r) { __typename } }',
        {"r": world.district},
    )
    return judge(body, lambda d: d["runProgramCycle"]["__typename"] in ("ProgramCycle", "CycleRefused"))


async def op_approve_cycle(caller: GraphQLClient, _admin: GraphQLClient, _world: World) -> str:
    body = await caller.raw('mutation { approveProgramCycle(cycleId: "1") { __typename } }')
    return judge(body, lambda d: d["approveProgramCycle"]["__typename"] == "NotFound")


async def op_form_kube_group(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw(
        'mutation($v: String!, $h: ID!) { formKubeGroup(villageCode: $v, name: "KUBe", business: "Tani", '
        "householdIds: [$h]) { __typename } }",
        {"v": TARGET_VILLAGE, "h": world.household_id},
    )
    return judge(body, lambda d: d["formKubeGroup"]["__typename"] == "ValidationError")  # one family is too few


async def op_proposals(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw("{ proposals(first: 100) { edges { node { id } } } }")
    return judge(
        body, lambda d: world.proposal_id in {factories.key_of(e["node"]["id"]) for e in d["proposals"]["edges"]}
    )


async def op_proposal(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw("query($id: ID!) { proposal(id: $id) { id } }", {"id": world.proposal_id})
    return judge(body, lambda d: d["proposal"] is not None)


async def op_propose_change(caller: GraphQLClient, admin: GraphQLClient, world: World) -> str:
    body = await caller.raw(
        "mutation($id: ID!, $v: Int!) { proposeHouseholdChange(householdId: $id, version: $v, "
        "change: {household: {livestockCount: 3}}) { __typename } }",
        {"id": world.household_id, "v": await current_version(admin, world)},
    )
    # reaching the rules (a proposal, or "already has an open proposal") means the caller was let in
    return judge(body, lambda d: d["proposeHouseholdChange"]["__typename"] in ("Proposal", "ValidationError"))


async def op_approve_proposals(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw(
        "mutation($id: ID!) { approveProposals(ids: [$id]) { __typename } }", {"id": world.proposal_id}
    )
    # moved on, or refused because it waits at another level: either way the caller could act on it
    return judge(body, lambda d: d["approveProposals"][0]["__typename"] in ("Proposal", "StepRefused"))


async def op_rounds(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw("{ verificationRounds { id } }")
    return judge(body, lambda d: world.round_id in {factories.key_of(r["id"]) for r in d["verificationRounds"]})


async def op_create_round(caller: GraphQLClient, _admin: GraphQLClient, world: World) -> str:
    body = await caller.raw(
        'mutation($r: String!) { createVerificationRound(period: "2026-Q4", label: "m", regionCodes: [$r]) '
        "{ __typename } }",
        {"r": world.district},
    )
    return judge(body, lambda d: d["createVerificationRound"]["__typename"] == "VerificationRound")


async def op_record_visit(caller: GraphQLClient, admin: GraphQLClient, world: World) -> str:
    body = await caller.raw(
        "mutation($input: VisitInput!) { recordVisit(input: $input) { __typename } }",
        {
            "input": {
                "roundId": world.round_id,
                "householdId": world.household_id,
                "outcome": "FOUND",
                "visitedAt": datetime.now(UTC).isoformat(),
                "latitude": -6.48,
                "longitude": 106.85,
                "householdVersion": await current_version(admin, world),
            }
        },
    )
    # recorded, or "already visited in this round": the household was within reach
    return judge(body, lambda d: d["recordVisit"]["__typename"] in ("VisitRecorded", "ValidationError"))


async def op_editions(caller: GraphQLClient, _admin: GraphQLClient, _world: World) -> str:
    return judge(await caller.raw("{ dtksEditions { id } }"), lambda d: True)


async def op_determine(caller: GraphQLClient, _admin: GraphQLClient, _world: World) -> str:
    body = await caller.raw('mutation { determineDtks(label: "matrix", period: "2026-12") { __typename } }')
    return judge(body, lambda d: d["determineDtks"]["__typename"] in ("Determination", "ValidationError"))


OPERATIONS = [
    Operation("households", (("household", "read"),), True, op_households),
    Operation("household", (("household", "read"),), True, op_household),
    Operation("person", (("member", "read"),), True, op_person),
    Operation("enrollments", (("household", "read"), ("enrollment", "read")), True, op_enrollments),
    Operation("eligibility", (("eligibility", "read"),), True, op_eligibility),
    Operation("reconciliation", (("disbursement", "read"),), True, op_reconciliation),
    Operation("regions", (("region", "read"),), False, op_regions),
    Operation("auditLog", (("audit", "read"),), False, op_audit),
    Operation("updateHousehold", (("household", "write"),), True, op_update_household),
    Operation("updateMember", (("member", "write"),), True, op_update_member),
    Operation("registerHousehold", (("household", "write"),), True, op_register),
    Operation("updateDisbursements", (("disbursement", "write"),), True, op_update_disbursements),
    Operation("setProgramQuota", (("quota", "write"),), True, op_set_quota),
    Operation("programCyclePreview", (("cycle", "read"),), True, op_preview_cycle),
    Operation("runProgramCycle", (("cycle", "run"),), True, op_run_cycle),
    Operation("approveProgramCycle", (("cycle", "approve"),), False, op_approve_cycle),
    Operation("doubleRecipients", (("enrollment", "read"),), True, op_double_recipients),
    Operation("welfareModels", (("welfare_model", "read"),), False, op_welfare_models),
    Operation("activateWelfareModel", (("welfare_model", "write"),), False, op_activate_model),
    Operation("formKubeGroup", (("kube_group", "write"),), True, op_form_kube_group),
    Operation("proposals", (("proposal", "read"),), True, op_proposals),
    Operation("proposal", (("proposal", "read"),), True, op_proposal),
    Operation("proposeHouseholdChange", (("proposal", "propose"),), True, op_propose_change),
    Operation("approveProposals", (("proposal", "review"),), True, op_approve_proposals),
    Operation("verificationRounds", (("verification_round", "read"),), True, op_rounds),
    Operation("createVerificationRound", (("verification_round", "write"),), True, op_create_round),
    Operation("recordVisit", (("visit", "write"),), True, op_record_visit),
    Operation("dtksEditions", (("dtks_edition", "read"),), False, op_editions),
    Operation("determineDtks", (("dtks_edition", "determine"),), False, op_determine),
]
# Operations aimed at a region (not a record) outside the caller's scope are refused outright.
REGION_TARGETED = {"setProgramQuota", "programCyclePreview", "runProgramCycle", "doubleRecipients", "formKubeGroup"}


def expected(role: str, relation: str, operation: Operation) -> str:
    rights = ALLOWED[role] | KUBE.get(role, set())
    if not all(need in rights for need in operation.needs):
        return "forbidden"
    if not operation.scoped or CONTAINS_TARGET[relation]:
        return "allowed"
    return "forbidden" if operation.name in REGION_TARGETED else "hidden"


CASES = [
    (role, relation, operation)
    for role in LEVEL
    for relation, scopes in RELATIONS.items()
    if scopes[LEVEL[role]] is not None
    for operation in OPERATIONS
]


@pytest.fixture(scope="module")
async def world(engine: AsyncEngine, settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, World]]:
    await clear_data(engine)
    [reference] = await payments(engine, ["released"], TARGET_VILLAGE)
    async with engine.connect() as conn:
        household_id = (await conn.execute(select(HOUSEHOLDS.c.id))).scalar_one()
    await payments(engine, ["released"], "35.78.01.1001")
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://siks.test") as http,
    ):
        admin = GraphQLClient(http, token_headers(settings, "data_centre"))
        data = await admin("query($id: ID!) { household(id: $id) { members { id nik } } }", {"id": str(household_id)})
        member = data["household"]["members"][1]
        proposal, verification_round = await verification_targets(engine, household_id)
        yield (
            http,
            World(
                str(household_id), member["nik"], member["id"], reference, TARGET_VILLAGE, proposal, verification_round
            ),
        )


async def verification_targets(engine: AsyncEngine, household_id: int) -> tuple[str, str]:
    """A change proposal for the target household and a verification round over its village."""
    async with write_transaction(engine) as conn:
        version = (await conn.execute(select(HOUSEHOLDS.c.version).where(HOUSEHOLDS.c.id == household_id))).scalar_one()
        proposal = await propose_change(
            conn,
            officer("village_operator", TARGET_VILLAGE),
            household_id,
            version,
            ChangeRequest(household={"rt": "099"}),
        )
        made = await create_round(conn, officer("data_centre", ""), "2026-Q4", "matrix", [TARGET_VILLAGE])
    return str(proposal.id), str(made.id)


@pytest.mark.parametrize(("role", "relation", "operation"), CASES, ids=[f"{r}-{rel}-{op.name}" for r, rel, op in CASES])
async def test_authorization_matrix(
    world: tuple[httpx.AsyncClient, World], settings: Settings, role: str, relation: str, operation: Operation
) -> None:
    http, target = world
    scope = RELATIONS[relation][LEVEL[role]]
    assert scope is not None
    caller = GraphQLClient(http, token_headers(settings, role, scope))
    admin = GraphQLClient(http, token_headers(settings, "data_centre"))
    assert await operation.run(caller, admin, target) == expected(role, relation, operation)
