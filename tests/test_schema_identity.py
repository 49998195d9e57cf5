"""GraphQL over identity checks: Member.identityCheck, identityRunSummary, identityDiscrepancies (docs/identity.md)."""

from __future__ import annotations

import secrets
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import Sex
from core.foundation.settings import Settings
from core.identity.checks import run_check
from core.models import IdentityRun
from core.reference.formats import Source
from core.reference.loader import load_reference
from core.schema.global_ids import encode
from core.storage.db import write_transaction
from tests import factories
from tests.conftest import GraphQLClient, token_headers
from tests.reference_files import write_extract
from tests.test_identity_checks import OPERATOR, TODAY, adminduk, person
from tests.test_schema_households import store

BOGOR = "32.01.01.1001"
BOGOR_OTHER = "32.01.01.1002"
SURABAYA = "35.78.01.1001"

CHECK = """query($nik: String!) { person(nik: $nik) { name
  identityCheck { status source checkedAt probability suggestedNik details { deathDate newVillageCode
    mismatchedFields } member { nik } household { villageCode } }
  bpjs: identityCheck(source: BPJS) { status details { segment } }
  identityChecks { source status } } }"""
DISCREPANCIES = """query($status: [IdentityStatus!], $source: ReferenceSource! = ADMINDUK, $region: String,
  $first: Int, $after: String, $last: Int, $before: String) {
  identityDiscrepancies(status: $status, source: $source, regionCode: $region, first: $first, after: $after,
    last: $last, before: $before) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { status villageCode memberId details { deathDate newVillageCode }
      member { nik name } household { id villageCode } } } } }"""
SUMMARY = """query($run: ID, $region: String) { identityRunSummary(runId: $run, regionCode: $region) {
  regionCode run { id status regionCode membersChecked sources }
  regions { regionCode region { name } counts { source status members } } } }"""


def _person(name: str, born: date, serial: int, district: str) -> Any:
    made = person(name, born, serial=serial)
    from core.households.identity import make_nik

    made.nik = make_nik(district, born, Sex.MALE, serial)
    return made


async def seeded(db: AsyncEngine, tmp_path: Path) -> dict[str, Any]:
    """Two Bogor households and one in Surabaya; deaths and moves in both regencies."""
    people = {
        "bogor_dead": person("Slamet Riyadi", date(1950, 1, 5), serial=101),
        "bogor_moved": person("Agus Salim", date(1960, 7, 7), serial=201),
        "bogor_ok": person("Budi Santoso", date(1980, 5, 17), serial=106),
        "surabaya_dead": _person("Joko Susilo", date(1955, 2, 2), 120, "35.78.01"),
        "surabaya_ok": _person("Heru Cahyono", date(1985, 3, 3), 121, "35.78.01"),
    }
    for key in ("bogor_dead", "bogor_moved", "surabaya_dead"):
        people[key].relationship = "head"
    people["bogor_ok"].relationship = "spouse"
    people["surabaya_ok"].relationship = "child"
    await store(
        db,
        [
            factories.household(BOGOR, [people["bogor_dead"], people["bogor_ok"]]),
            factories.household(BOGOR_OTHER, [people["bogor_moved"]]),
            factories.household(SURABAYA, [people["surabaya_dead"], people["surabaya_ok"]]),
        ],
    )
    rows = [
        adminduk(people["bogor_dead"], status="deceased", death_date="2025-03-01"),
        adminduk(people["bogor_moved"], status="moved", village_code=SURABAYA),
        adminduk(people["bogor_ok"]),
        adminduk(people["surabaya_dead"], status="deceased", death_date="2024-01-01", village_code=SURABAYA),
        adminduk(people["surabaya_ok"], village_code=SURABAYA),
    ]
    bpjs = [[people["bogor_ok"].nik, "0001234567801", "PBI-APBD", "true"]]
    for source, found in ((Source.ADMINDUK, rows), (Source.BPJS, bpjs)):
        path = write_extract(tmp_path / f"{source.value}.csv", source, found)
        await load_reference(db, source, path, request=OPERATOR, today=TODAY)
    summary = await run_check(db, region_code=None, started_by="cli:datacentre", today=TODAY)
    return {"people": people, "run": summary.run_id}


@pytest.fixture
def caller(client: httpx.AsyncClient, settings: Settings) -> Any:
    def make(role: str, scope: str = "") -> GraphQLClient:
        username = f"{role}-{secrets.token_hex(4)}"
        made = GraphQLClient(client, token_headers(settings, role, scope, username=username))
        made.username = username  # type: ignore[attr-defined]
        return made

    return make


async def test_member_identity_check_shows_the_latest_outcome_per_source(
    db: AsyncEngine, tmp_path: Path, gql: GraphQLClient
) -> None:
    world = await seeded(db, tmp_path)
    dead = (await gql(CHECK, {"nik": world["people"]["bogor_dead"].nik}))["person"]
    check = dead["identityCheck"]
    assert check["status"] == "DECEASED" and check["source"] == "ADMINDUK"
    assert check["details"] == {"deathDate": "2025-03-01", "newVillageCode": None, "mismatchedFields": None}
    assert check["member"]["nik"] == world["people"]["bogor_dead"].nik and check["household"]["villageCode"] == BOGOR
    assert check["probability"] is None and check["suggestedNik"] is None and check["checkedAt"]
    assert dead["bpjs"]["status"] == "PBI_INACTIVE"
    assert [c["source"] for c in dead["identityChecks"]] == ["ADMINDUK", "BPJS"]
    ok = (await gql(CHECK, {"nik": world["people"]["bogor_ok"].nik}))["person"]
    assert ok["identityCheck"]["status"] == "VERIFIED"
    assert ok["bpjs"] == {"status": "PBI_ACTIVE", "details": {"segment": "PBI-APBD"}}


async def test_a_failed_run_changes_no_answer(db: AsyncEngine, tmp_path: Path, gql: GraphQLClient) -> None:
    world = await seeded(db, tmp_path)
    second = await run_check(db, region_code=None, started_by="cli:datacentre", today=TODAY)
    async with write_transaction(db) as conn:
        await conn.execute(update(IdentityRun.__table__).where(IdentityRun.id == second.run_id).values(status="failed"))
    body = await gql(SUMMARY, {})
    assert body["identityRunSummary"]["run"]["id"] == encode("IdentityRun", world["run"])
    assert (await gql(SUMMARY, {"run": encode("IdentityRun", second.run_id)}))["identityRunSummary"] is None
    page = (await gql(DISCREPANCIES, {}))["identityDiscrepancies"]
    assert page["totalCount"] == 3


async def test_an_operator_sees_only_the_discrepancies_of_their_regency(
    db: AsyncEngine, tmp_path: Path, gql: GraphQLClient, caller: Any
) -> None:
    world = await seeded(db, tmp_path)
    people = world["people"]
    national = (await gql(DISCREPANCIES, {}))["identityDiscrepancies"]
    assert national["totalCount"] == 3
    bogor = caller("regency_office", "32.01")
    page = (await bogor(DISCREPANCIES, {}))["identityDiscrepancies"]
    assert page["totalCount"] == 2
    assert {e["node"]["member"]["nik"] for e in page["edges"]} == {people["bogor_dead"].nik, people["bogor_moved"].nik}
    moved = next(e["node"] for e in page["edges"] if e["node"]["status"] == "MOVED")
    assert moved["details"]["newVillageCode"] == SURABAYA and moved["household"]["villageCode"] == BOGOR_OTHER
    # filtered by status; another regency's region code finds nothing
    deaths = (await bogor(DISCREPANCIES, {"status": ["DECEASED"]}))["identityDiscrepancies"]
    assert [e["node"]["member"]["nik"] for e in deaths["edges"]] == [people["bogor_dead"].nik]
    assert (await bogor(DISCREPANCIES, {"region": "35.78"}))["identityDiscrepancies"]["totalCount"] == 0
    surabaya = caller("village_operator", SURABAYA)
    theirs = (await surabaya(DISCREPANCIES, {}))["identityDiscrepancies"]
    assert [e["node"]["member"]["nik"] for e in theirs["edges"]] == [people["surabaya_dead"].nik]
    # node(id) of another regency's member answers as if it did not exist
    other = theirs["edges"][0]["node"]["memberId"]
    assert (await bogor("query($id: ID!) { node(id: $id) { id } }", {"id": other}))["node"] is None


async def test_discrepancies_page_forward_and_backward(db: AsyncEngine, tmp_path: Path, gql: GraphQLClient) -> None:
    await seeded(db, tmp_path)
    everything = (await gql(DISCREPANCIES, {}))["identityDiscrepancies"]["edges"]
    order = [e["node"]["memberId"] for e in everything]
    first = (await gql(DISCREPANCIES, {"first": 2}))["identityDiscrepancies"]
    assert [e["node"]["memberId"] for e in first["edges"]] == order[:2] and first["pageInfo"]["hasNextPage"]
    rest = (await gql(DISCREPANCIES, {"first": 2, "after": first["pageInfo"]["endCursor"]}))["identityDiscrepancies"]
    assert [e["node"]["memberId"] for e in rest["edges"]] == order[2:] and not rest["pageInfo"]["hasNextPage"]
    back = (await gql(DISCREPANCIES, {"last": 1, "before": rest["pageInfo"]["startCursor"]}))["identityDiscrepancies"]
    assert [e["node"]["memberId"] for e in back["edges"]] == [order[1]] and back["pageInfo"]["hasPreviousPage"]


async def test_run_summary_counts_per_child_region_within_the_scope(
    db: AsyncEngine, tmp_path: Path, gql: GraphQLClient, caller: Any
) -> None:
    world = await seeded(db, tmp_path)
    national = (await gql(SUMMARY, {}))["identityRunSummary"]
    assert national["regionCode"] == "" and national["run"]["status"] == "COMPLETED"
    assert national["run"]["sources"] == ["ADMINDUK", "BPJS"] and national["run"]["membersChecked"] == 5
    provinces = {r["regionCode"]: r for r in national["regions"]}
    assert set(provinces) == {"32", "35"} and provinces["32"]["region"]["name"]
    counts = {(c["source"], c["status"]): c["members"] for c in provinces["32"]["counts"]}
    assert counts[("ADMINDUK", "DECEASED")] == 1 and counts[("ADMINDUK", "MOVED")] == 1
    assert counts[("BPJS", "PBI_ACTIVE")] == 1 and counts[("BPJS", "PBI_INACTIVE")] == 2
    bogor = caller("regency_office", "32.01")
    theirs = (await bogor(SUMMARY, {"run": encode("IdentityRun", world["run"])}))["identityRunSummary"]
    assert theirs["regionCode"] == "32.01" and [r["regionCode"] for r in theirs["regions"]] == ["32.01.01"]
    above = (await bogor(SUMMARY, {"region": "32"}))["identityRunSummary"]  # their province: only their part
    assert [r["regionCode"] for r in above["regions"]] == ["32.01"]
    assert (await bogor(SUMMARY, {"region": "35.78"}))["identityRunSummary"] is None
    village = (await gql(SUMMARY, {"region": BOGOR}))["identityRunSummary"]
    assert [r["regionCode"] for r in village["regions"]] == [BOGOR]


async def test_bad_arguments_are_refused_naming_them(db: AsyncEngine, tmp_path: Path, gql: GraphQLClient) -> None:
    await seeded(db, tmp_path)
    wrong_source = await gql.raw(DISCREPANCIES, {"status": ["NOT_ENROLLED"]})
    assert "status: NOT_ENROLLED is not an outcome of ADMINDUK" in wrong_source["errors"][0]["message"]
    bad_region = await gql.raw(DISCREPANCIES, {"region": "32-01"})
    assert bad_region["errors"][0]["message"].startswith("regionCode:")
    bad_run = await gql.raw(SUMMARY, {"run": encode("Household", 1)})
    assert "runId" in bad_run["errors"][0]["message"]
    pupils = (await gql(DISCREPANCIES, {"source": "DAPODIK", "status": ["NOT_ENROLLED"]}))["identityDiscrepancies"]
    assert pupils["totalCount"] == 0  # no Dapodik snapshot was loaded: nobody was checked


async def test_roles_without_identity_check_are_refused_and_reads_are_audited(
    db: AsyncEngine, tmp_path: Path, caller: Any
) -> None:
    world = await seeded(db, tmp_path)
    for role, scope in (("program_officer", "32.01"), ("integrator", ""), ("auditor", "")):
        body = await caller(role, scope).raw(DISCREPANCIES, {})
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (role, body)
    reader = caller("regency_office", "32.01")
    await reader(CHECK, {"nik": world["people"]["bogor_dead"].nik})
    rows = (
        await caller("auditor")(
            """query($actor: String) { auditLog(operation: "read:personal", actor: $actor) { after } }""",
            {"actor": reader.username},
        )
    )["auditLog"]
    assert rows and "IdentityCheck.details" in rows[0]["after"]["fields"]
    assert "IdentityCheck.suggestedNik" in rows[0]["after"]["fields"]
