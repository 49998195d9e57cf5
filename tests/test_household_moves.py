"""Finding 1 (issue 12): a scoped operator moving a household out of their region.

Every write that registers a household or sets its village checks the destination as well as
the source: ``updateHousehold``, ``registerHousehold``, proposals and field visits online and
offline answer a field error on the village code (as ``registerHousehold`` always did), write
nothing, and leave a ``denied`` audit row.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.models import AuditEntry, Proposal, Visit
from core.storage.records import HOUSEHOLDS
from tests import factories
from tests import test_offline as offline
from tests.conftest import GraphQLClient
from tests.test_offline import Field, photo_dir  # noqa: F401  (photo_dir: a fixture the offline ones use)
from tests.test_offline import field as village_package  # noqa: F401  (a fixture: an exported village's officer)
from tests.test_schema_mutations import REGISTER, UPDATE
from tests.verification_support import PROPOSE_CHANGE, PROPOSE_NEW, registered, row_count

AUDIT = AuditEntry.__table__
VILLAGE = factories.VILLAGE  # 32.01.01.1001, district 32.01.01 (Cibinong)
NEIGHBOUR_VILLAGE = "32.01.01.1002"  # the same district
OTHER_DISTRICT_VILLAGE = "32.01.02.2001"  # the same regency, another district
ACEH_VILLAGE = "11.01.01.2001"  # another province
CREATE_ROUND = """mutation { createVerificationRound(period: "2026-Q4", label: "Q4", regionCodes: ["32.01.01"]) {
  __typename ... on VerificationRound { id } } }"""
RECORD = """mutation($input: VisitInput!) { recordVisit(input: $input) {
  __typename ... on VisitRecorded { visit { id } } ... on ValidationError { fields { field message } } } }"""


async def last_seq(db: AsyncEngine) -> int:
    async with db.connect() as conn:
        return int((await conn.execute(select(func.coalesce(func.max(AUDIT.c.seq), 0)))).scalar_one())


async def audit_since(db: AsyncEngine, seq: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(operation, entity id, outcome, after) of the audit rows written after ``seq``, oldest first."""
    async with db.connect() as conn:
        rows = await conn.execute(
            select(AUDIT.c.operation, AUDIT.c.entity_id, AUDIT.c.outcome, AUDIT.c.after)
            .where(AUDIT.c.seq > seq)
            .order_by(AUDIT.c.seq)
        )
        return [(r.operation, r.entity_id, r.outcome, json.loads(r.after or "{}")) for r in rows]


async def stored(db: AsyncEngine, household_id: int) -> tuple[str, int]:
    async with db.connect() as conn:
        row = (
            await conn.execute(
                select(HOUSEHOLDS.c.village_code, HOUSEHOLDS.c.version).where(HOUSEHOLDS.c.id == household_id)
            )
        ).one()
    return row.village_code, row.version


def refused_field(result: dict[str, Any], field: str = "villageCode") -> str:
    assert result["__typename"] == "ValidationError", result
    messages = {f["field"]: f["message"] for f in result["fields"]}
    assert list(messages) == [field], messages
    return messages[field]


@pytest.mark.parametrize(
    ("role", "scope", "destinations"),
    [
        ("village_operator", VILLAGE, [NEIGHBOUR_VILLAGE, OTHER_DISTRICT_VILLAGE, ACEH_VILLAGE]),
        ("district_officer", "32.01.01", [OTHER_DISTRICT_VILLAGE, ACEH_VILLAGE]),
    ],
)
async def test_finding_1_update_household_cannot_move_a_household_out_of_the_region(
    db: AsyncEngine, as_role: Any, role: str, scope: str, destinations: list[str]
) -> None:
    (household,) = await registered(db)
    operator: GraphQLClient = as_role(role, scope)
    for destination in destinations:
        before = await last_seq(db)
        changes = {"villageCode": destination, "address": "Jl. Pindahan 1"}
        result = (await operator(UPDATE, {"id": str(household.id), "version": 1, "changes": changes}))[
            "updateHousehold"
        ]
        message = refused_field(result)
        assert message == (
            f"village {destination} is outside your region {scope}; register or move households only within it"
        )
        assert await stored(db, household.id) == (VILLAGE, 1)
        ((operation, entity_id, outcome, after),) = await audit_since(db, before)
        assert (operation, entity_id, outcome) == ("updateHousehold", str(household.id), "denied")
        assert after == {"reason": f"destination village {destination} is outside the caller's region"}


async def test_finding_1_moving_within_the_region_still_works(db: AsyncEngine, as_role: Any) -> None:
    (household,) = await registered(db)
    district = as_role("district_officer", "32.01.01")
    moved = (
        await district(UPDATE, {"id": str(household.id), "version": 1, "changes": {"villageCode": NEIGHBOUR_VILLAGE}})
    )["updateHousehold"]
    assert moved["__typename"] == "Household" and moved["version"] == 2
    assert await stored(db, household.id) == (NEIGHBOUR_VILLAGE, 2)
    # The village operator of its new village now holds it, and may keep it there (its own village).
    operator = as_role("village_operator", NEIGHBOUR_VILLAGE)
    kept = (
        await operator(
            UPDATE, {"id": str(household.id), "version": 2, "changes": {"villageCode": NEIGHBOUR_VILLAGE, "rt": "004"}}
        )
    )["updateHousehold"]
    assert kept["__typename"] == "Household" and kept["version"] == 3
    # ... while the operator of its old village no longer finds it.
    gone = (
        await as_role("village_operator", VILLAGE)(
            UPDATE, {"id": str(household.id), "version": 3, "changes": {"villageCode": VILLAGE}}
        )
    )["updateHousehold"]
    assert gone["__typename"] == "NotFound"
    assert await stored(db, household.id) == (NEIGHBOUR_VILLAGE, 3)


async def test_finding_1_register_household_outside_the_region_is_refused_and_audited(
    db: AsyncEngine, as_role: Any
) -> None:
    district = as_role("district_officer", "32.01.01")
    before = await last_seq(db)
    made_up = factories.household(village=ACEH_VILLAGE)
    result = (await district(REGISTER, {"input": factories.household_input(made_up)}))["registerHousehold"]
    assert "outside your region 32.01.01" in refused_field(result)
    assert await row_count(db, HOUSEHOLDS) == 0
    assert [(op, entity, outcome) for op, entity, outcome, _ in await audit_since(db, before)] == [
        ("registerHousehold", "-", "denied")
    ]
    at_home = await district(REGISTER, {"input": factories.household_input(factories.household())})
    assert at_home["registerHousehold"]["__typename"] == "Household"


async def test_finding_1_a_proposal_cannot_move_a_household_out_of_the_region(db: AsyncEngine, as_role: Any) -> None:
    (household,) = await registered(db)
    operator = as_role("village_operator", VILLAGE)
    before = await last_seq(db)
    change = {"household": {"villageCode": ACEH_VILLAGE}}
    result = (await operator(PROPOSE_CHANGE, {"id": str(household.id), "version": 1, "change": change}))[
        "proposeHouseholdChange"
    ]
    assert "outside your region" in refused_field(result, "household.villageCode")
    assert await row_count(db, Proposal.__table__) == 0
    assert [(op, entity, outcome) for op, entity, outcome, _ in await audit_since(db, before)] == [
        ("proposeHouseholdChange", str(household.id), "denied")
    ]
    elsewhere = factories.household(village=NEIGHBOUR_VILLAGE)
    new = (await operator(PROPOSE_NEW, {"input": factories.household_input(elsewhere), "note": ""}))[
        "proposeNewHousehold"
    ]
    assert "outside your region" in refused_field(new)
    assert await row_count(db, Proposal.__table__) == 0


async def test_finding_1_a_field_visit_cannot_move_a_household_out_of_the_region(db: AsyncEngine, as_role: Any) -> None:
    (household,) = await registered(db)
    created = (await as_role("regency_office", "32.01")(CREATE_ROUND))["createVerificationRound"]
    district = as_role("district_officer", "32.01.01")
    visit = {
        "roundId": created["id"],
        "householdId": str(household.id),
        "outcome": "FOUND",
        "visitedAt": datetime.now(UTC).isoformat(),
        "householdVersion": 1,
        "latitude": -6.4805,
        "longitude": 106.8502,
        "changes": {"household": {"villageCode": OTHER_DISTRICT_VILLAGE}},
    }
    before = await last_seq(db)
    result = (await district(RECORD, {"input": visit}))["recordVisit"]
    assert "outside your region" in refused_field(result, "household.villageCode")
    assert await row_count(db, Visit.__table__) == 0 and await row_count(db, Proposal.__table__) == 0
    assert [(op, outcome) for op, _entity, outcome, _ in await audit_since(db, before)] == [("recordVisit", "denied")]
    assert await stored(db, household.id) == (VILLAGE, 1)


@pytest.mark.parametrize("row", ["visit", "new household"])
async def test_finding_1_an_offline_package_cannot_move_a_household_out_of_the_region(
    village_package: Field,  # noqa: F811  (the fixture imported above)
    db: AsyncEngine,
    row: str,
) -> None:
    field = village_package
    await offline.export(field)
    offline.add_visit(field.package, "v-1", field.households[0].id, {"household": {"floor_material": "ceramic"}})
    if row == "visit":
        moved = {"household": {"village_code": ACEH_VILLAGE}}
        offline.add_visit(field.package, "v-2", field.households[1].id, moved, hours_ago=1)
        where = f"visits row 'v-2' (household {field.households[1].id}): household.villageCode"
    else:
        offline.add_proposal(field.package, "n-1", factories.household(village=ACEH_VILLAGE))
        where = "proposals row 'n-1': villageCode"
    before, seq = await offline.counts(db), await last_seq(db)

    code, _out, err = await offline.import_package(field.package)

    assert code == 2, err
    assert f"{where}: village {ACEH_VILLAGE} is outside your region {VILLAGE}" in err
    assert await offline.counts(db) == before | {"audit_log": before["audit_log"] + 1}
    ((operation, _package, outcome, after),) = await audit_since(db, seq)
    assert (operation, outcome) == ("importOfflinePackage", "denied") and where in after["reason"]
    assert await stored(db, field.households[1].id) == (VILLAGE, field.households[1].version)
