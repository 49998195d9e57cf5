"""Issue 12, low findings: a KK issued in another district, and a GPS point far from the village.

A KK number from another district than the village's is accepted (a family keeps its card while
it lives away from the address on it) and shown as ``kkFromOtherDistrict``; one whose district
does not exist is refused. A household's GPS point is checked against its village's other
households with the field-visit check (``core.verification.gps.gps_errors``) when it is
registered or proposed, and when its point or village changes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage.records import HOUSEHOLDS
from tests import factories
from tests.conftest import GraphQLClient
from tests.test_schema_mutations import fields_of, table_counts
from tests.verification_support import PROPOSE_CHANGE, registered, row_count

VILLAGE = factories.VILLAGE  # 32.01.01.1001, Bogor: factory households stand at (-6.48, 106.85)
SURABAYA_VILLAGE = factories.OTHER_VILLAGE  # 35.78.01.1001
SURABAYA = {"latitude": -7.25, "longitude": 112.75}  # ~680 km from the Bogor village
NEAR = {"latitude": -6.4805, "longitude": 106.8502}
RESULT = """__typename
  ... on Household { id version villageCode kkNumber latitude longitude kkFromOtherDistrict }
  ... on ValidationError { fields { field message } }"""
REGISTER = f"mutation($input: HouseholdInput!) {{ registerHousehold(input: $input) {{ {RESULT} }} }}"
UPDATE = f"""mutation($id: ID!, $version: Int!, $changes: HouseholdChanges!) {{
  updateHousehold(id: $id, version: $version, changes: $changes) {{ {RESULT} }} }}"""


async def register(gql: GraphQLClient, **extra: Any) -> dict[str, Any]:
    data = factories.household(**extra)
    return (await gql(REGISTER, {"input": factories.household_input(data)}))["registerHousehold"]


async def update(gql: GraphQLClient, household_id: Any, version: int, **changes: Any) -> dict[str, Any]:
    variables = {"id": str(household_id), "version": version, "changes": changes}
    return (await gql(UPDATE, variables))["updateHousehold"]


# KK numbers


async def test_finding_kk_from_another_district_is_accepted_and_flagged(db: AsyncEngine, gql: GraphQLClient) -> None:
    at_home = await register(gql)
    assert at_home["__typename"] == "Household" and at_home["kkFromOtherDistrict"] is False
    surabaya_card = factories.kk_number("35.78.01")
    away = await register(gql, kk_number=surabaya_card)
    assert away["__typename"] == "Household" and away["kkNumber"] == surabaya_card
    assert away["kkFromOtherDistrict"] is True
    new_card = await update(gql, at_home["id"], 1, kkNumber=factories.kk_number("32.01.02"))
    assert new_card["kkFromOtherDistrict"] is True  # a neighbouring district of the same regency
    moved = await update(gql, away["id"], 1, villageCode=SURABAYA_VILLAGE, **SURABAYA)
    assert moved["villageCode"] == SURABAYA_VILLAGE and moved["kkFromOtherDistrict"] is False


async def test_finding_kk_from_a_district_that_does_not_exist_is_refused(db: AsyncEngine, gql: GraphQLClient) -> None:
    made_up = factories.kk_number("32.01.99")
    refused = fields_of(await register(gql, kk_number=made_up))
    assert refused == {"kkNumber": "KK number district code 32.01.99 (digits 1-6) does not exist"}
    household = await register(gql)
    before = await table_counts(db)
    changed = fields_of(await update(gql, household["id"], 1, kkNumber=made_up))
    assert list(changed) == ["kkNumber"] and "32.01.99" in changed["kkNumber"]
    assert await table_counts(db) == before


# GPS points


async def test_finding_gps_registering_a_household_far_from_its_village_is_refused(
    db: AsyncEngine, gql: GraphQLClient
) -> None:
    await registered(db, 3)  # the village's recorded points
    before = await table_counts(db)
    far = fields_of(await register(gql, **SURABAYA))
    assert list(far) == ["latitude"]
    assert "km from village 32.01.01.1001's households (at most 25 km); check the GPS fix" in far["latitude"]
    assert await table_counts(db) == before
    assert (await register(gql, **NEAR))["__typename"] == "Household"
    assert (await register(gql, latitude=None, longitude=None))["__typename"] == "Household"


async def test_finding_gps_a_village_with_fewer_than_three_points_has_no_reference(
    db: AsyncEngine, gql: GraphQLClient
) -> None:
    await registered(db, 2)
    assert (await register(gql, **SURABAYA))["__typename"] == "Household"


async def test_finding_gps_changing_the_point_or_the_village_is_checked(db: AsyncEngine, gql: GraphQLClient) -> None:
    (household,) = await registered(db)
    await registered(db, 3)
    await registered(db, 3, village=SURABAYA_VILLAGE, **SURABAYA)
    far = fields_of(await update(gql, household.id, 1, **SURABAYA))
    assert list(far) == ["latitude"] and "from village 32.01.01.1001's households" in far["latitude"]
    moved_without_point = fields_of(await update(gql, household.id, 1, villageCode=SURABAYA_VILLAGE))
    assert "from village 35.78.01.1001's households" in moved_without_point["latitude"]
    assert await row_count(db, HOUSEHOLDS, HOUSEHOLDS.c.version > 1) == 0
    moved = await update(gql, household.id, 1, villageCode=SURABAYA_VILLAGE, latitude=-7.2504, longitude=112.7502)
    assert moved["__typename"] == "Household" and moved["villageCode"] == SURABAYA_VILLAGE


async def test_finding_gps_a_wrong_point_can_be_corrected(db: AsyncEngine, gql: GraphQLClient) -> None:
    (wrong,) = await registered(db, latitude=-7.0, longitude=110.4)  # recorded before its neighbours, ~400 km off
    await registered(db, 3)
    unrelated = await update(gql, wrong.id, 1, address="Jl. Melati No. 7")  # the old point is not re-judged
    assert unrelated["__typename"] == "Household"
    corrected = await update(gql, wrong.id, 2, **NEAR)  # judged against the neighbours, not the old point
    assert corrected["__typename"] == "Household" and corrected["latitude"] == NEAR["latitude"]


async def test_finding_gps_a_proposal_moving_the_point_far_away_is_refused(db: AsyncEngine, as_role: Any) -> None:
    (household, *_neighbours) = await registered(db, 4)
    operator = as_role("village_operator", VILLAGE)
    change = {"household": SURABAYA}
    result = (await operator(PROPOSE_CHANGE, {"id": str(household.id), "version": 1, "change": change}))[
        "proposeHouseholdChange"
    ]
    assert [f["field"] for f in result["fields"]] == ["household.latitude"]
    near = (await operator(PROPOSE_CHANGE, {"id": str(household.id), "version": 1, "change": {"household": NEAR}}))[
        "proposeHouseholdChange"
    ]
    assert near["__typename"] == "Proposal"
