"""GraphQL: registering and changing households; every refusal changes nothing."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import Relationship, Sex
from core.storage.records import HOUSEHOLDS, MEMBERS
from tests import factories
from tests.conftest import GraphQLClient

RESULT = """
  __typename
  ... on Household { id version kkNumber address members { id nik name relationship } }
  ... on ValidationError { message fields { field message } }
  ... on VersionConflict { message currentVersion }
  ... on NotFound { message }
"""
REGISTER = f"mutation($input: HouseholdInput!) {{ registerHousehold(input: $input) {{ {RESULT} }} }}"
UPDATE = f"""mutation($id: ID!, $version: Int!, $changes: HouseholdChanges!) {{
  updateHousehold(id: $id, version: $version, changes: $changes) {{ {RESULT} }} }}"""
ADD = f"""mutation($id: ID!, $version: Int!, $member: MemberInput!) {{
  addMember(householdId: $id, version: $version, member: $member) {{ {RESULT} }} }}"""
CHANGE_MEMBER = f"""mutation($id: ID!, $version: Int!, $member: ID!, $changes: MemberChanges!) {{
  updateMember(householdId: $id, version: $version, memberId: $member, changes: $changes) {{ {RESULT} }} }}"""
REMOVE = f"""mutation($id: ID!, $version: Int!, $member: ID!, $reason: RemovalReason!, $head: ID) {{
  removeMember(householdId: $id, version: $version, memberId: $member, reason: $reason, newHeadId: $head) {{
    {RESULT} }} }}"""


async def register(gql: GraphQLClient, data: Any = None) -> dict[str, Any]:
    result = await gql(REGISTER, {"input": factories.household_input(data or factories.household())})
    return result["registerHousehold"]


async def table_counts(engine: AsyncEngine) -> tuple[int, int, int]:
    async with engine.connect() as conn:
        households = (await conn.execute(select(func.count()).select_from(HOUSEHOLDS))).scalar_one()
        members = (await conn.execute(select(func.count()).select_from(MEMBERS))).scalar_one()
        version_sum = (await conn.execute(select(func.coalesce(func.sum(HOUSEHOLDS.c.version), 0)))).scalar_one()
    return households, members, version_sum


def fields_of(result: dict[str, Any]) -> dict[str, str]:
    assert result["__typename"] == "ValidationError", result
    return {f["field"]: f["message"] for f in result["fields"]}


async def test_register_household(db: AsyncEngine, gql: GraphQLClient) -> None:
    result = await register(gql)
    assert result["__typename"] == "Household" and result["version"] == 1
    assert len(result["members"]) == 3
    assert await table_counts(db) == (1, 3, 1)


async def test_register_refusals_name_field_and_reason_and_write_nothing(db: AsyncEngine, gql: GraphQLClient) -> None:
    existing = factories.household()
    await register(gql, existing)
    before = await table_counts(db)

    def bad(**changes: Any) -> Any:
        data = factories.household()
        for key, value in changes.items():
            setattr(data, key, value)
        return data

    head = factories.member()
    cases: list[tuple[Any, str, str]] = [
        (bad(kk_number="12345"), "kkNumber", "16 digits"),
        (bad(kk_number=existing.kk_number), "kkNumber", "already registered"),
        (bad(village_code="32.01.01.9999"), "villageCode", "does not exist"),
        (bad(village_code="32.01"), "villageCode", "not a village code"),
        (bad(latitude=40.0), "latitude", "outside Indonesia"),
        (bad(floor_area=0.0), "floorArea", "between 1 and 10,000"),
        (bad(members=[factories.member(relationship=Relationship.CHILD)]), "members", "no head"),
        (bad(members=[factories.member(), factories.member()]), "members", "2 heads"),
        (bad(members=[head, factories.member(Relationship.CHILD)]), "members.1.nik", ""),
    ]
    # A NIK already active in another household:
    cases[-1] = (bad(members=[factories.member(), existing.members[2]]), "members.1.nik", "another active household")
    wrong_nik = factories.member()
    wrong_nik.nik = "3201011705800000"
    cases.append((bad(members=[wrong_nik]), "members.0.nik", "0000"))
    unknown_district = factories.member()
    unknown_district.nik = "3299991705800001"
    cases.append((bad(members=[unknown_district]), "members.0.nik", "does not exist"))
    mismatch = factories.member(birth_date=date(1980, 5, 17))
    mismatch.birth_date = date(1981, 5, 17)
    cases.append((bad(members=[mismatch]), "members.0.nik", "does not match birth date"))
    wrong_sex = factories.member(sex=Sex.MALE)
    wrong_sex.sex = Sex.FEMALE
    cases.append((bad(members=[wrong_sex]), "members.0.nik", "belongs to a male"))
    future = factories.member()
    future.birth_date = date.today() + timedelta(days=30)
    cases.append((bad(members=[future]), "members.0.birthDate", "in the future"))
    pregnant_man = factories.member(pregnant=True)
    cases.append((bad(members=[pregnant_man]), "members.0.pregnant", "only a female"))
    for data, field, reason in cases:
        errors = fields_of(await register(gql, data))
        assert field in errors, (field, errors)
        assert reason in errors[field], (reason, errors)
    assert await table_counts(db) == before


async def test_graphql_level_input_errors_are_readable(db: AsyncEngine, gql: GraphQLClient) -> None:
    variables = factories.household_input(factories.household())
    variables["floorMaterial"] = "GOLD"
    body = await gql.raw(REGISTER, {"input": variables})
    assert "GOLD" in body["errors"][0]["message"] and "FloorMaterial" in body["errors"][0]["message"]
    variables = factories.household_input(factories.household())
    variables["members"][0]["birthDate"] = "17-05-1980"
    body = await gql.raw(REGISTER, {"input": variables})
    assert "birthDate" in body["errors"][0]["message"]
    assert await table_counts(db) == (0, 0, 0)


async def test_update_household_with_the_version_read(db: AsyncEngine, gql: GraphQLClient) -> None:
    household = await register(gql)
    result = await gql(
        UPDATE, {"id": household["id"], "version": 1, "changes": {"address": "Jl. Mawar 9", "floorMaterial": "CERAMIC"}}
    )
    assert result["updateHousehold"]["version"] == 2
    assert result["updateHousehold"]["address"] == "Jl. Mawar 9"
    stale = await gql(UPDATE, {"id": household["id"], "version": 1, "changes": {"address": "Jl. Lama"}})
    assert stale["updateHousehold"]["__typename"] == "VersionConflict"
    assert stale["updateHousehold"]["currentVersion"] == 2
    data = await gql("query($id: ID!) { household(id: $id) { address version } }", {"id": household["id"]})
    assert data["household"] == {"address": "Jl. Mawar 9", "version": 2}


async def test_update_refusals(db: AsyncEngine, gql: GraphQLClient) -> None:
    household = await register(gql)
    other = await register(gql)
    cases = [
        ({"kkNumber": other["kkNumber"]}, "kkNumber", "already registered"),
        ({"villageCode": "99.99.99.9999"}, "villageCode", "does not exist"),
        ({"address": None}, "address", "cannot be null"),
        ({}, "changes", "no field"),
    ]
    for changes, field, reason in cases:
        result = (await gql(UPDATE, {"id": household["id"], "version": 1, "changes": changes}))["updateHousehold"]
        assert reason in fields_of(result)[field]
    missing = (await gql(UPDATE, {"id": "999", "version": 1, "changes": {"address": "x"}}))["updateHousehold"]
    assert missing["__typename"] == "NotFound"
    assert (await table_counts(db))[2] == 2  # both still at version 1


async def test_concurrent_updates_never_lose_one(db: AsyncEngine, gql: GraphQLClient) -> None:
    household = await register(gql)
    results = await asyncio.gather(
        *(gql(UPDATE, {"id": household["id"], "version": 1, "changes": {"address": f"Jl. {n}"}}) for n in range(5))
    )
    kinds = sorted(r["updateHousehold"]["__typename"] for r in results)
    assert kinds == ["Household", "VersionConflict", "VersionConflict", "VersionConflict", "VersionConflict"]
    winner = next(r["updateHousehold"] for r in results if r["updateHousehold"]["__typename"] == "Household")
    data = await gql("query($id: ID!) { household(id: $id) { address version } }", {"id": household["id"]})
    assert data["household"] == {"address": winner["address"], "version": 2}


async def test_members_added_changed_and_removed(db: AsyncEngine, gql: GraphQLClient) -> None:
    household = await register(gql)
    hid = household["id"]
    baby = factories.member(Relationship.CHILD, Sex.MALE, date(2024, 1, 2), name="Raka")
    added = (await gql(ADD, {"id": hid, "version": 1, "member": factories.member_input(baby)}))["addMember"]
    assert added["version"] == 2 and len(added["members"]) == 4
    raka = next(m for m in added["members"] if m["name"] == "Raka")
    renamed = (
        await gql(CHANGE_MEMBER, {"id": hid, "version": 2, "member": raka["id"], "changes": {"name": "Raka Pratama"}})
    )["updateMember"]
    assert renamed["version"] == 3 and any(m["name"] == "Raka Pratama" for m in renamed["members"])
    two_heads = (
        await gql(CHANGE_MEMBER, {"id": hid, "version": 3, "member": raka["id"], "changes": {"relationship": "HEAD"}})
    )["updateMember"]
    assert "2 heads" in fields_of(two_heads)["members"]
    head = household["members"][0]
    spouse = household["members"][1]
    no_successor = await gql(REMOVE, {"id": hid, "version": 3, "member": head["id"], "reason": "DECEASED"})
    assert "newHeadId" in fields_of(no_successor["removeMember"])
    removed = (
        await gql(REMOVE, {"id": hid, "version": 3, "member": head["id"], "reason": "DECEASED", "head": spouse["id"]})
    )["removeMember"]
    assert removed["version"] == 4
    assert [m["relationship"] for m in removed["members"] if m["id"] == spouse["id"]] == ["HEAD"]
    assert head["id"] not in {m["id"] for m in removed["members"]}
    data = await gql("query($nik: String!) { person(nik: $nik) { name } }", {"nik": head["nik"]})
    assert data["person"] is None


async def test_member_refusals(db: AsyncEngine, gql: GraphQLClient) -> None:
    household = await register(gql)
    other = await register(gql)
    hid = household["id"]
    taken = {**factories.member_input(factories.member(Relationship.CHILD)), "nik": other["members"][0]["nik"]}
    result = (await gql(ADD, {"id": hid, "version": 1, "member": taken}))["addMember"]
    assert "member.nik" in fields_of(result)
    stale = (
        await gql(
            ADD, {"id": hid, "version": 7, "member": factories.member_input(factories.member(Relationship.CHILD))}
        )
    )["addMember"]
    assert stale["__typename"] == "VersionConflict"
    child = household["members"][2]
    not_head = (
        await gql(
            REMOVE,
            {"id": hid, "version": 1, "member": child["id"], "reason": "MOVED", "head": household["members"][1]["id"]},
        )
    )["removeMember"]
    assert "only given when the head is removed" in fields_of(not_head)["newHeadId"]
    unknown = (await gql(REMOVE, {"id": hid, "version": 1, "member": "42", "reason": "MOVED"}))["removeMember"]
    assert unknown["__typename"] == "NotFound"
    assert await table_counts(db) == (2, 6, 2)


async def test_removed_member_may_join_another_household(db: AsyncEngine, gql: GraphQLClient) -> None:
    household = await register(gql)
    child = household["members"][2]
    await gql(REMOVE, {"id": household["id"], "version": 1, "member": child["id"], "reason": "MOVED"})
    mover = factories.member(Relationship.HEAD, Sex.FEMALE, date(2015, 8, 30), name="Ayu Lestari")
    mover.nik = child["nik"]
    result = await register(gql, factories.household(members=[mover]))
    assert result["__typename"] == "Household"
