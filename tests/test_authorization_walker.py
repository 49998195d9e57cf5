"""Authorization walker: every role reaches every object type by every path, and the policy holds.

The schema is read by introspection; from the query root every path of object-typed fields
(nested fields, connection edges and nodes, lookups by id, union members through inline
fragments, plugin fields) is followed up to ``MAX_HOPS`` fields, a type appearing at most
``MAX_VISITS`` times on one path. For each path one query selects ``__typename`` at every level
and the type's scalar fields at the end (a field guarded on its own gets a query of its own), and
every role of the policy (base and plugins, and anonymous callers) sends it to the real
application over a small seeded registry. Expected answers come from this file's own reading of
which Casbin object each type belongs to (``TYPE_OBJECTS``) and from Casbin over the policy
lines, not from the server's declarations: a query needing an object the role may not read must
answer FORBIDDEN; any other must not, and every object returned (named by ``__typename``) must be
one the role may read. A new object type fails the test until it is classified here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import casbin
import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.access.enforcer import base_policy_lines, policy_files, region_within
from core.foundation.settings import Settings
from core.http.app import create_app
from core.models import Enrollment, ProgramCycle
from core.schema.global_ids import encode
from core.storage.db import write_transaction
from core.storage.records import MEMBERS
from tests import factories
from tests.conftest import GraphQLClient, clear_data, token_headers
from tests.grievance_support import Planted, filed
from tests.photo_files import jpeg_with_gps
from tests.programs_support import rank
from tests.test_disbursements import payments
from tests.test_fieldwork import CREATE_ROUND, RECORD, upload, visit_input
from tests.test_schema_households import store
from tests.verification_support import APPROVE, CHAIN_SCOPES, DETERMINE, PROPOSE_CHANGE, VILLAGE

MAX_HOPS = 6
MAX_VISITS = 2
MAX_WALKS = 420  # x 12 callers: about 20 s on an idle machine
PAGE = 5  # the value of every `first` argument, keeping answers (and query cost) small

#: This test's own reading: the Casbin objects each object type's data belongs to (() = no registry data).
TYPE_OBJECTS: dict[str, tuple[str, ...]] = {
    "Query": (),
    "Programs": (),
    "Me": (),
    "PageInfo": (),
    "FieldError": (),
    "ValidationError": (),
    "NotFound": (),  # mutations' answer, and programs { pbiJkReconciliation }'s for a cycle out of scope
    "Region": ("region",),
    "Household": ("household",),
    "HouseholdConnection": ("household",),
    "HouseholdEdge": ("household",),
    "HouseholdPrograms": ("household",),
    "Welfare": ("household",),
    "WelfareFactor": ("household",),
    "Member": ("member",),
    "Enrollment": ("enrollment",),
    "BenefitComponent": ("enrollment",),
    "DoubleRecipientReportType": ("enrollment",),
    "DoubleRecipientCase": ("enrollment",),
    "CaseEnrollment": ("enrollment",),
    "EligibilityAnswer": ("eligibility",),
    "ProgramEligibility": ("eligibility",),
    "ProgramInfo": ("program",),
    "ProgramRule": ("program",),
    "ReconciliationLine": ("disbursement",),
    "CyclePreview": ("cycle",),
    "CyclePreviewRegion": ("cycle",),
    "ProgramCycle": ("cycle",),
    "WelfareModel": ("welfare_model",),
    "WelfareEvaluation": ("welfare_model",),
    "WelfareTargeting": ("welfare_model",),
    "AuditEntry": ("audit",),
    "Proposal": ("proposal",),
    "ProposalConnection": ("proposal",),
    "ProposalEdge": ("proposal",),
    "ProposalStep": ("proposal",),
    "ProposedValue": ("proposal", "household", "member"),
    "DtksEdition": ("dtks_edition",),
    "EditionCounts": ("dtks_edition",),
    "VerificationRound": ("verification_round",),
    "PrelistConnection": ("verification_round",),
    "PrelistEntry": ("verification_round",),
    "RoundProgress": ("verification_round",),
    "ProgressCounts": ("verification_round",),
    "Visit": ("visit",),
    "VisitPhoto": ("photo",),
    "IdentityCheck": ("identity_check",),
    "IdentityCheckDetails": ("identity_check",),
    "IdentityDiscrepancyConnection": ("identity_check",),
    "IdentityDiscrepancyEdge": ("identity_check",),
    "IdentityRun": ("identity_check",),
    "IdentityRunSummary": ("identity_check",),
    "IdentityRegionCounts": ("identity_check",),
    "IdentityStatusCount": ("identity_check",),
    "DuplicateCandidate": ("duplicate_candidate",),
    "DuplicateCandidateConnection": ("duplicate_candidate",),
    "DuplicateCandidateEdge": ("duplicate_candidate",),
    "DuplicateSide": ("duplicate_candidate",),
    "Grievance": ("grievance",),
    "GrievanceConnection": ("grievance",),
    "GrievanceEdge": ("grievance",),
    "GrievanceEvent": ("grievance",),
    "GrievanceCounts": ("grievance",),
    "GrievanceStatusCount": ("grievance",),
    "GrievanceAgeCount": ("grievance",),
    "KubeGroup": ("kube_group",),  # plugins/kube
    "PbiJkReconciliation": ("enrollment",),  # plugins/pbi_jk
    "PbiJkRegencyCount": ("enrollment",),
    "ElderlyAssistance": ("household",),  # tests/plugins/siks_elderly
}
#: Fields needing objects besides their type's: root fields whose answer may be an error type, and values
#: that identify people on a type that otherwise does not.
FIELD_OBJECTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Query", "doubleRecipients"): ("enrollment",),
    ("Query", "programCyclePreview"): ("cycle",),
    ("DoubleRecipientCase", "key"): ("member",),
    ("Programs", "elderlyCaregiverCount"): ("household",),
    ("Programs", "pbiJkReconciliation"): ("enrollment",),
}
#: Fields walked one hop deep: what lies below a type they reach is walked from that type's own queries, and the
#: check of a type is the same whatever path led to it (node and nodes reach every Node type).
ENTRY_ONLY = {
    ("Query", "node"),
    ("Query", "nodes"),
    ("IdentityCheck", "member"),
    ("IdentityCheck", "household"),
    ("Grievance", "household"),
    ("Grievance", "proposal"),
    ("Grievance", "village"),
}
#: Types only mutations return: their reads follow the same per-type rules, but walking them would write.
MUTATION_ONLY = {
    "Mutation",
    "Tokens",
    "LoginFailed",
    "ProgramQuota",
    "CycleRefused",
    "DisbursementUpdateSummary",
    "VisitRecorded",
    "Determination",
    "ConflictCount",
    "VersionConflict",
    "StepRefused",
    "DecisionRefused",
    "GrievanceRefused",
    "Escalation",
    "EscalatedCount",
}
#: Types the seeded registry must show the national data centre somewhere along the walk.
SEEDED = {
    "Region",
    "Household",
    "HouseholdEdge",
    "HouseholdPrograms",
    "Member",
    "Welfare",
    "Enrollment",
    "DoubleRecipientCase",
    "CaseEnrollment",
    "EligibilityAnswer",
    "ProgramEligibility",
    "ProgramInfo",
    "ProgramRule",
    "ReconciliationLine",
    "CyclePreview",
    "CyclePreviewRegion",
    "AuditEntry",
    "Proposal",
    "ProposalEdge",
    "ProposalStep",
    "ProposedValue",
    "DtksEdition",
    "EditionCounts",
    "VerificationRound",
    "PrelistEntry",
    "RoundProgress",
    "ProgressCounts",
    "Visit",
    "VisitPhoto",
    "DuplicateCandidate",
    "DuplicateSide",
    "Grievance",
    "GrievanceEvent",
    "KubeGroup",
    "ElderlyAssistance",
}
#: Scopes that contain the seeded village; roles not named here work at any level and get its regency.
ROLE_SCOPES = {**CHAIN_SCOPES, "public": ""}
ANY_LEVEL_SCOPE = "32.01"
#: Errors an allowed query may meet that are not about access (the seeded rank has no model file to explain it).
NOT_ABOUT_ACCESS = ("welfare model",)

INTROSPECTION = """{ __schema { queryType { name } types { kind name possibleTypes { name }
  fields { name type { ...T } args { name defaultValue type { ...T } } } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }"""


@dataclass(frozen=True)
class Hop:
    parent: str
    field: str
    arguments: str
    target: str
    union: bool  # reached through a union: select the target with an inline fragment


@dataclass(frozen=True)
class Walk:
    path: tuple[Hop, ...]
    leaves: tuple[str, ...]

    @property
    def target(self) -> str:
        return self.path[-1].target

    def document(self) -> str:
        selection = " ".join(("__typename", *self.leaves))
        for hop in reversed(self.path):
            inner = f"__typename ... on {hop.target} {{ {selection} }}" if hop.union else selection
            selection = f"__typename {hop.field}{hop.arguments} {{ {inner} }}"
        return f"{{ {selection} }}"

    def needs(self) -> set[str]:
        objects: set[str] = set()
        for hop in self.path:
            objects.update(TYPE_OBJECTS[hop.parent], FIELD_OBJECTS.get((hop.parent, hop.field), ()))
        for leaf in self.leaves:
            objects.update(TYPE_OBJECTS[self.target], FIELD_OBJECTS.get((self.target, leaf), ()))
        return objects


def named(type_ref: dict[str, Any]) -> dict[str, Any]:
    while type_ref.get("ofType"):
        type_ref = type_ref["ofType"]
    return type_ref


def walks(schema: dict[str, Any], arguments: dict[tuple[str, str, str], str]) -> list[Walk]:
    """Every path from the query root, with the leaf queries of each path's last type."""
    types = {t["name"]: t for t in schema["types"]}
    found: list[Walk] = []

    def argument_text(parent: str, field_spec: dict[str, Any]) -> str:
        given = []
        for argument in field_spec["args"]:
            key = (parent, field_spec["name"], argument["name"])
            if key in arguments:
                given.append(f"{argument['name']}: {arguments[key]}")
            elif argument["name"] == "first":
                given.append(f"first: {PAGE}")
            else:
                required = argument["type"]["kind"] == "NON_NULL" and argument["defaultValue"] is None
                assert not required, f"{parent}.{field_spec['name']}({argument['name']}) needs a value in ARGUMENTS"
        return f"({', '.join(given)})" if given else ""

    def leaves(type_name: str) -> list[tuple[str, ...]]:
        scalars = [
            f["name"]
            for f in types[type_name]["fields"]
            if named(f["type"])["kind"] in ("SCALAR", "ENUM") and not f["args"]
        ]
        own = [name for name in scalars if (type_name, name) in FIELD_OBJECTS]
        plain = tuple(name for name in scalars if name not in own)
        return [plain, *((name,) for name in own)]

    def follow(type_name: str, path: tuple[Hop, ...], seen: tuple[str, ...]) -> None:
        for field_spec in types[type_name]["fields"]:
            target = types[named(field_spec["type"])["name"]]
            if target["kind"] == "OBJECT":
                reached = [(target["name"], False)]
            elif target["kind"] in ("UNION", "INTERFACE"):
                reached = [(member["name"], True) for member in target["possibleTypes"]]
            else:
                continue
            for member, union in reached:
                if seen.count(member) >= MAX_VISITS:
                    continue
                hop = Hop(type_name, field_spec["name"], argument_text(type_name, field_spec), member, union)
                longer = (*path, hop)
                found.extend(Walk(longer, leaf) for leaf in leaves(member))
                if len(longer) < MAX_HOPS and (type_name, field_spec["name"]) not in ENTRY_ONLY:
                    follow(member, longer, (*seen, member))

    root = schema["queryType"]["name"]
    follow(root, (), (root,))
    return found


def policy() -> casbin.Enforcer:
    """Casbin over the policy files and the plugins' lines, as a fresh server would load them."""
    model, _base = policy_files()
    enforcer = casbin.Enforcer(str(model))
    enforcer.add_function("region_within", region_within)
    for line in base_policy_lines():
        if line[0] == "p":
            enforcer.add_policy(*line[1:])
        elif line[0] == "g":
            enforcer.add_grouping_policy(*line[1:])
    return enforcer


def roles() -> list[str]:
    """Every role the policy names (base and plugins), and anonymous callers ("public")."""
    found = {"public"}
    for line in base_policy_lines():
        found.update(line[1:3] if line[0] == "g" else line[1:2])
    return sorted(found)


def about_something_else(message: str) -> bool:
    return any(words in message for words in NOT_ABOUT_ACCESS)


def objects_returned(data: Any) -> Iterator[dict[str, Any]]:
    """Every object of an answer that says its type."""
    if isinstance(data, dict):
        if "__typename" in data:
            yield data
        for value in data.values():
            yield from objects_returned(value)
    elif isinstance(data, list):
        for item in data:
            yield from objects_returned(item)


@dataclass(frozen=True)
class Seeded:
    """A household as visit_input needs it."""

    id: int
    version: int


@dataclass
class World:
    http: httpx.AsyncClient
    settings: Settings
    arguments: dict[tuple[str, str, str], str] = field(default_factory=dict)


def literal(value: Any) -> str:
    return json.dumps(value)


async def seed(engine: AsyncEngine, http: httpx.AsyncClient, settings: Settings) -> dict[tuple[str, str, str], str]:
    """A small registry touching every kind of record; returns the values of the required arguments."""
    admin = GraphQLClient(http, token_headers(settings, "data_centre"))
    village = GraphQLClient(http, token_headers(settings, "village_operator", VILLAGE))
    await payments(engine, ["released"])  # a household, a BPNT cycle, an enrollment, a payment
    async with engine.connect() as conn:
        enrollment = (await conn.execute(select(Enrollment.__table__))).one()
    enrolled = enrollment.household_id
    async with write_transaction(engine) as conn:  # the same family in BST too: a double recipient
        cycle = enrollment.cycle_id + 100
        await conn.execute(
            insert(ProgramCycle.__table__).values(
                id=cycle,
                program="bst",
                period="2026-03",
                region_code=VILLAGE,
                status="approved",
                enrolled=1,
                refused=0,
                total_amount=300_000,
                started_at=enrollment.created_at,
                run_by="test",
            )
        )
        values = {**enrollment._mapping, "id": cycle + 1, "cycle_id": cycle, "program": "bst", "amount": 300_000}
        await conn.execute(insert(Enrollment.__table__).values(**values))
    await rank(engine, {enrolled: (1, 13.2)})
    others = [int(i) for i in await store(engine, [factories.household() for _ in range(5)])]
    async with engine.connect() as conn:
        nik = (await conn.execute(select(MEMBERS.c.nik).where(MEMBERS.c.household_id == enrolled))).scalars().first()
    assert (
        await admin(
            'mutation($id: ID!) { registerElderlyCaregiver(householdId: $id, name: "Sri Wahyuni") }',
            {"id": str(enrolled)},
        )
    )["registerElderlyCaregiver"]
    group = await admin(
        'mutation($v: String!, $h: [ID!]!) { formKubeGroup(villageCode: $v, name: "KUBe Melati", business: "Tani", '
        "householdIds: $h) { __typename ... on KubeGroup { id } } }",
        {"v": VILLAGE, "h": [str(i) for i in others]},
    )
    assert group["formKubeGroup"]["__typename"] == "KubeGroup", group
    regency = GraphQLClient(http, token_headers(settings, "regency_office", "32.01"))
    made = (await regency(CREATE_ROUND, {"codes": ["32.01.01"], "period": "2026-Q4"}))["createVerificationRound"]
    assert made["__typename"] == "VerificationRound", made
    version = (await admin("query($id: ID!) { household(id: $id) { version } }", {"id": str(others[0])}))["household"]
    visited = (await village(RECORD, {"input": visit_input(made["id"], Seeded(others[0], version["version"]))}))[
        "recordVisit"
    ]
    assert visited["__typename"] == "VisitRecorded", visited
    photo = await upload(
        http, village.headers, visited["visit"]["id"], "ROOF", jpeg_with_gps(), "atap.jpg", "image/jpeg"
    )
    assert photo.json()["data"]["uploadVisitPhoto"]["__typename"] == "VisitPhoto", photo.json()
    async with engine.connect() as conn:
        member = (await conn.execute(select(MEMBERS.c.id).where(MEMBERS.c.household_id == enrolled))).scalars().first()
    version = (await admin("query($id: ID!) { household(id: $id) { version } }", {"id": str(others[1])}))["household"]
    proposal = (
        await village(
            PROPOSE_CHANGE,
            {"id": str(others[1]), "version": version["version"], "change": {"household": {"rt": "099"}}},
        )
    )["proposeHouseholdChange"]
    assert proposal["__typename"] == "Proposal", proposal
    for role in ("district_officer", "regency_office", "province_office"):
        reviewer = GraphQLClient(http, token_headers(settings, role, CHAIN_SCOPES[role]))
        assert (await reviewer(APPROVE, {"ids": [proposal["id"]]}))["approveProposals"][0]["__typename"] == "Proposal"
    determined = (await admin(DETERMINE, {"label": "walker", "period": "2026-12"}))["determineDtks"]
    assert determined["__typename"] == "Determination", determined
    pair = await duplicate_pair(engine, [int(i) for i in others[2:4]])
    async with engine.connect() as conn:
        head = (await conn.execute(select(MEMBERS.c.id).where(MEMBERS.c.household_id == others[4]))).scalars().first()
    grievance = encode("Grievance", await filed(engine, Planted(others[4], head)))
    every_node = [  # one of each Node type: node() and nodes() are walked through every implementation
        encode("Household", enrolled),
        encode("Member", member),
        encode("Enrollment", enrollment.id),
        encode("ProgramCycle", enrollment.cycle_id),
        encode("Region", VILLAGE),
        group["formKubeGroup"]["id"],
        made["id"],
        visited["visit"]["id"],
        photo.json()["data"]["uploadVisitPhoto"]["id"],
        proposal["id"],
        determined["edition"]["id"],
        encode("DuplicateCandidate", pair),
        grievance,
    ]
    return {
        ("Query", "node", "id"): literal(proposal["id"]),
        ("Query", "nodes", "ids"): literal(every_node),
        ("Query", "household", "id"): literal(str(enrolled)),
        ("Query", "person", "nik"): literal(nik),
        ("Query", "eligibility", "nik"): literal(nik),
        ("Query", "eligibilityBatch", "niks"): literal([nik]),
        ("Query", "region", "code"): literal("32.01.01"),
        ("Query", "proposal", "id"): literal(proposal["id"]),
        ("Query", "grievance", "id"): literal(grievance),
        ("Query", "visit", "id"): literal(visited["visit"]["id"]),
        ("Query", "verificationRound", "id"): literal(made["id"]),
        ("Query", "doubleRecipients", "regionCode"): literal(VILLAGE),
        ("Query", "doubleRecipients", "period"): literal("2026-03"),
        ("Query", "programCyclePreview", "program"): literal("bpnt"),
        ("Query", "programCyclePreview", "period"): literal("2026-04"),
        ("Query", "programCyclePreview", "regionCode"): literal(VILLAGE),
        ("Query", "reconciliation", "program"): literal("bpnt"),
        ("Programs", "kubeGroups", "villageCode"): literal(VILLAGE),
        ("Programs", "pbiJkReconciliation", "cycleId"): literal(encode("ProgramCycle", enrollment.cycle_id)),
        ("VerificationRound", "prelist", "villageCode"): literal(VILLAGE),
    }


async def duplicate_pair(engine: AsyncEngine, households: list[int]) -> int:
    """An open same-person pair between two households' heads, as ``siks dedup run`` writes it."""
    from datetime import UTC, datetime

    from core.foundation.enums import DuplicateKind
    from core.identity.duplicates import CANDIDATES, Candidate, store_candidates
    from core.models import IdentityRun

    async with write_transaction(engine) as conn:
        heads = [
            (await conn.execute(select(MEMBERS.c.id).where(MEMBERS.c.household_id == h).order_by(MEMBERS.c.id)))
            .scalars()
            .first()
            for h in households
        ]
        at = datetime.now(UTC)
        await conn.execute(
            insert(IdentityRun.__table__).values(
                id=1, kind="dedup", status="completed", started_by="walker", started_at=at, summary={}
            )
        )
        pair = Candidate(DuplicateKind.SAME_PERSON, *heads, *households, VILLAGE, VILLAGE, 0.95, ("name",))  # type: ignore[call-arg]
        await store_candidates(conn, 1, [pair], None, at)
        return int((await conn.execute(select(CANDIDATES.c.id))).scalar_one())


@pytest.fixture(scope="module")
async def world(engine: AsyncEngine, settings: Settings) -> AsyncIterator[World]:
    await clear_data(engine)
    # The walk sends a few hundred anonymous requests from one address, some of them deep: lift the
    # anonymous rate limit and the query cost limit (tests/test_caller_gate.py and
    # tests/test_query_limits.py test them) so that every answer is the policy's, not a limiter's.
    limits = {"anonymous_requests_per_minute": 100_000, "max_query_cost": 10**12}
    app = create_app(settings.model_copy(update=limits))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siks.test") as http,
    ):
        yield World(http, settings, await seed(engine, http, settings))


def caller(world: World, role: str) -> GraphQLClient:
    if role == "public":
        return GraphQLClient(world.http)
    return GraphQLClient(world.http, token_headers(world.settings, role, ROLE_SCOPES.get(role, ANY_LEVEL_SCOPE)))


async def test_every_role_by_every_path(world: World) -> None:
    schema = (await caller(world, "data_centre")(INTROSPECTION))["__schema"]
    object_types = {t["name"] for t in schema["types"] if t["kind"] == "OBJECT" and not t["name"].startswith("__")}
    assert object_types - TYPE_OBJECTS.keys() - MUTATION_ONLY == set(), "classify new types in TYPE_OBJECTS"
    plan = walks(schema, world.arguments)
    assert len(plan) <= MAX_WALKS, f"{len(plan)} paths: lower MAX_HOPS or MAX_VISITS to keep the walk quick"
    reached = {schema["queryType"]["name"], *(walk.target for walk in plan)}
    assert object_types - reached - MUTATION_ONLY == set(), "types no path reaches"
    enforcer = policy()
    problems: list[str] = []
    seen_with_data: set[str] = set()
    for role in roles():
        client = caller(world, role)
        decided: dict[str, bool] = {}

        def may_read(obj: str, role: str = role, decided: dict[str, bool] = decided) -> bool:
            if obj not in decided:
                decided[obj] = bool(enforcer.enforce(role, "", "", obj, "read"))
            return decided[obj]

        for walk in plan:
            document = walk.document()
            body = await client.raw(document)
            codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors", [])}
            refused = sorted(obj for obj in walk.needs() if not may_read(obj))
            if refused and "FORBIDDEN" not in codes:
                problems.append(f"{role}: expected FORBIDDEN (needs {refused}): {document}")
            if not refused:
                if "FORBIDDEN" in codes:
                    problems.append(f"{role}: unexpected FORBIDDEN: {document} -> {body['errors']}")
                others = [e["message"] for e in body.get("errors", []) if not about_something_else(e["message"])]
                if others:
                    problems.append(f"{role}: errors {others}: {document}")
            for returned in objects_returned(body.get("data")):
                type_name = returned["__typename"]
                needed = {
                    *TYPE_OBJECTS[type_name],
                    *(o for k in returned for o in FIELD_OBJECTS.get((type_name, k), ())),
                }
                if not all(may_read(obj) for obj in needed):
                    problems.append(f"{role}: returned a {type_name} it may not read: {document}")
                if len(returned) > 1:
                    seen_with_data.add(type_name)
    assert problems == [], "\n".join(problems[:30]) + f"\n({len(problems)} problems)"
    assert SEEDED - seen_with_data == set(), "the seed no longer reaches these types"
