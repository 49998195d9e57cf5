"""Reads: who may read a type is checked whatever path reaches it (finding 3), and every answer carrying
personal data is audited by what it returned, once per request (finding 4)."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.access.enforcer import AccessControl
from core.auth.principal import Principal
from core.foundation.settings import Settings
from core.programs.registry import registry_from_settings
from core.schema.build import build_schema
from core.schema.context import Context
from core.storage.records import HOUSEHOLDS, MEMBERS
from tests import factories
from tests.conftest import GraphQLClient, token_headers
from tests.test_disbursements import payments
from tests.test_schema_households import store
from tests.test_schema_mutations import REGISTER
from tests.verification_support import PROPOSE_CHANGE

PERSONAL = """query($actor: String) { auditLog(operation: "read:personal", actor: $actor) {
  actor operation entity entityId outcome after } }"""
MEMBERS_BY_PATH = {
    "connection": "{ households { edges { node { members { nik name birthDate disability } } } } }",
    "alias": "{ h: households(first: 1) { e: edges { n: node { m: members { who: name } } } } }",
    "fragment": "{ households { edges { node { ...family } } } } fragment family on Household { members { nik } }",
    "inline fragment": "{ households { edges { node { ... on Household { members { ... on Member { nik } } } } } } }",
    "lookup, then nested": "query($id: ID!) { household(id: $id) { kkNumber members { name } } }",
    "person": "query($nik: String!) { person(nik: $nik) { name } }",
}


def refused(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The FORBIDDEN errors of an answer that carried no data."""
    assert body["data"] is None, body
    errors = [e for e in body["errors"] if e["extensions"]["code"] == "FORBIDDEN"]
    assert errors and len(errors) == len(body["errors"]), body
    return errors


@pytest.fixture
def named_role(client: httpx.AsyncClient, settings: Settings) -> Any:
    """``named_role(role, scope)``: a caller of that role with a username of this test's own (the audit log is kept
    between tests), its name as ``.username``."""

    def make(role: str, scope: str = "") -> GraphQLClient:
        username = f"{role}-{secrets.token_hex(4)}"
        made = GraphQLClient(client, token_headers(settings, role, scope, username=username))
        made.username = username  # type: ignore[attr-defined]
        return made

    return make


async def personal_reads(as_role: Any, reader: GraphQLClient) -> list[dict[str, Any]]:
    """The read:personal rows of ``reader``, newest first."""
    actor = reader.username  # type: ignore[attr-defined]
    return list((await as_role("auditor")(PERSONAL, {"actor": actor}))["auditLog"])


@pytest.mark.parametrize("path", MEMBERS_BY_PATH)
async def test_finding_3_program_officer_reads_no_member_by_any_path(db: AsyncEngine, as_role: Any, path: str) -> None:
    [household] = await store(db, [factories.household()])
    async with db.connect() as conn:
        nik = (await conn.execute(select(MEMBERS.c.nik))).scalars().first()
    officer = as_role("program_officer", "32.01")
    assert (await officer("{ households { edges { node { id kkNumber } } } }"))["households"]["edges"]  # may read these
    body = await officer.raw(MEMBERS_BY_PATH[path], {"id": household, "nik": nik})
    [error] = refused(body)
    assert error["message"] == "not allowed: role program_officer may not read member"
    assert all(name.startswith("Member.") for name in error["extensions"]["fields"]), error
    assert error["locations"], error  # points at the refused field in the document


async def test_finding_3_nested_plugin_and_identifying_fields_are_refused(db: AsyncEngine, as_role: Any) -> None:
    [reference] = await payments(db, ["released"])
    assert reference
    officer = as_role("program_officer", "32.01")
    groups = await officer.raw("{ households { edges { node { programs { kubeGroup { name } } } } } }")
    assert [e["message"] for e in refused(groups)] == ["not allowed: role program_officer may not read kube_group"]
    enrolled = await officer("{ households { edges { node { programs { enrollments { program amount } } } } } }")
    assert enrolled["households"]["edges"][0]["node"]["programs"]["enrollments"][0]["program"] == "bpnt"
    cases = 'doubleRecipients(regionCode: "32.01", period: "2026-03") { ... on DoubleRecipientReportType'
    assert (await officer(f"{{ {cases} {{ cases {{ kind householdIds }} }} }} }}"))["doubleRecipients"] == {"cases": []}
    [nik] = refused(await officer.raw(f"{{ {cases} {{ cases {{ kind key }} }} }} }}"))
    assert nik["extensions"]["fields"] == ["DoubleRecipientCase.key"]  # a NIK or KK number needs member read


async def test_finding_3_a_refused_mutation_writes_nothing_and_is_audited(
    db: AsyncEngine, as_role: Any, named_role: Any
) -> None:
    clerk = named_role("program_officer", "32.01")
    selecting_members = REGISTER.replace("members { id nik name relationship }", "members { nik }")
    body = await clerk.raw(selecting_members, {"input": factories.household_input(factories.household())})
    assert [e["extensions"]["fields"] for e in refused(body)] == [["Member.nik"]]
    async with db.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(HOUSEHOLDS))).scalar_one() == 0
    log = await as_role("auditor")(
        'query($actor: String) { auditLog(operation: "refusedDocument", actor: $actor) { actor outcome after } }',
        {"actor": clerk.username},
    )
    assert log["auditLog"] == [
        {
            "actor": clerk.username,
            "outcome": "denied",
            "after": {"reason": "may not read member (Member.nik)"},
        }
    ]


class CountingAccess(AccessControl):
    """The real enforcer, counting the questions it is asked."""

    asked = 0

    def allows(self, principal: Principal, obj: str, act: str, region: str | None = None) -> bool:
        CountingAccess.asked += 1
        return super().allows(principal, obj, act, region)


async def test_read_rules_are_asked_once_per_object_and_request_not_per_record(
    db: AsyncEngine, settings: Settings
) -> None:
    registry = registry_from_settings(settings)
    schema = build_schema(settings, registry=registry)
    access = CountingAccess(db)
    await access.refresh(force=True)
    query = "{ households(first: 1000) { edges { node { kkNumber region { name } members { nik name } } } } }"
    asked, stored = [], 0
    for count in (2, 40):
        await store(db, [factories.household() for _ in range(count - stored)])
        stored = count
        CountingAccess.asked = 0
        context = Context.create(db, settings, access, Principal("pusdatin", "data_centre", ""), registry=registry)
        result = await schema.execute(query, context_value=context)
        assert result.errors is None and len(result.data["households"]["edges"]) == count  # type: ignore[index]
        asked.append(CountingAccess.asked)
    assert asked[0] == asked[1] <= 4, asked  # household, region, member (+ the resolver's own check)


async def test_finding_4_a_household_found_by_kk_number_is_audited(
    db: AsyncEngine, as_role: Any, named_role: Any
) -> None:
    [household] = await store(db, [factories.household()])
    async with db.connect() as conn:
        kk = (await conn.execute(select(HOUSEHOLDS.c.kk_number))).scalar_one()
    operator = named_role("village_operator", factories.VILLAGE)
    found = await operator(
        "query($kk: String!) { households(kkNumber: $kk, first: 1) { edges { node { members { nik name } } } } }",
        {"kk": kk},
    )
    assert len(found["households"]["edges"][0]["node"]["members"]) == 3
    [row] = await personal_reads(as_role, operator)
    assert row["entity"] == "household" and row["entityId"] == household and row["outcome"] == "read"
    assert row["after"] == {"households": [int(household)], "people": 3, "fields": ["Member.name", "Member.nik"]}


async def test_finding_4_a_page_is_one_row_naming_every_household(
    db: AsyncEngine, as_role: Any, named_role: Any
) -> None:
    ids = await store(db, [factories.household() for _ in range(12)])
    await store(db, [factories.household(factories.OTHER_VILLAGE)])  # outside the caller's region: not returned
    officer = named_role("district_officer", "32.01.01")
    page = await officer("{ households(first: 1000) { edges { node { kkNumber address } } } }")
    assert len(page["households"]["edges"]) == 12
    [row] = await personal_reads(as_role, officer)
    assert row["entityId"] == "12 households"
    assert row["after"] == {
        "households": sorted(int(i) for i in ids),
        "people": 0,
        "fields": ["Household.address", "Household.kkNumber"],
    }


async def test_finding_4_answers_without_personal_data_add_no_row(
    db: AsyncEngine, as_role: Any, named_role: Any
) -> None:
    [household] = await store(db, [factories.household()])
    officer = named_role("district_officer", "32.01.01")
    await officer("{ households { totalCount edges { node { id floorMaterial members { id status } } } } }")
    await officer("query($id: ID!) { household(id: $id) { id version welfare { decile } } }", {"id": household})
    await officer('{ households(kkNumber: "3201010000000000") { edges { node { kkNumber } } } }')  # none found
    clerk = named_role("program_officer", "32.01")
    refused(await clerk.raw("{ households { edges { node { members { nik } } } } }"))
    assert await personal_reads(as_role, officer) == []
    assert await personal_reads(as_role, clerk) == []


async def test_finding_4_personal_data_reached_through_other_records_is_audited(
    db: AsyncEngine, as_role: Any, named_role: Any
) -> None:
    [household] = await store(db, [factories.household()])
    operator = as_role("village_operator", factories.VILLAGE)
    version = (await operator("query($id: ID!) { household(id: $id) { version } }", {"id": household}))["household"]
    proposal = (
        await operator(
            PROPOSE_CHANGE, {"id": household, "version": version["version"], "change": {"household": {"rt": "011"}}}
        )
    )["proposeHouseholdChange"]
    async with db.connect() as conn:
        nik = (await conn.execute(select(MEMBERS.c.nik))).scalars().first()
    district = named_role("district_officer", "32.01.01")
    await district("{ proposals { edges { node { household { members { name } } } } } }")
    await district("query($id: ID!) { proposal(id: $id) { id changes { field proposed } } }", {"id": proposal["id"]})
    await district("query($nik: String!) { person(nik: $nik) { name household { id } } }", {"nik": nik})
    rows = await personal_reads(as_role, district)
    assert [row["after"] for row in rows] == [
        {"households": [int(household)], "people": 1, "fields": ["Member.name"]},
        {"households": [int(household)], "people": 0, "fields": ["Proposal.changes"]},
        {"households": [int(household)], "people": 3, "fields": ["Member.name"]},
    ]


async def test_finding_4_mutation_answers_are_audited_like_reads(
    db: AsyncEngine, as_role: Any, named_role: Any
) -> None:
    centre = named_role("data_centre")
    registered = (await centre(REGISTER, {"input": factories.household_input(factories.household())}))[
        "registerHousehold"
    ]
    [row] = await personal_reads(as_role, centre)
    assert row["after"]["households"] == [int(factories.key_of(registered["id"]))] and row["after"]["people"] == 3


async def test_synchronous_execution_is_checked_too(db: AsyncEngine, settings: Settings) -> None:
    registry = registry_from_settings(settings)
    schema = build_schema(settings, registry=registry)
    access = AccessControl(db)
    await access.refresh(force=True)
    assert schema.introspect()["__schema"]["queryType"]["name"] == "Query"  # no caller, nothing to check
    officer = Context.create(db, settings, access, Principal("po", "program_officer", "32.01"), registry=registry)
    result = schema.execute_sync("{ households { edges { node { members { nik } } } } }", context_value=officer)
    assert result.data is None and [e.extensions["code"] for e in result.errors or []] == ["FORBIDDEN"]
