"""KUBe: groups of 5-20 families of one village, a family in one group at most."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import AUDIT
from plugins.kube.tables import GROUPS, MEMBERSHIPS
from tests import factories
from tests.conftest import GraphQLClient
from tests.programs_support import poor_household
from tests.test_schema_households import store

GROUP = """
  __typename
  ... on KubeGroup { id villageCode name business status groupStatus version householdIds dissolveReason }
  ... on ValidationError { fields { field message } }
  ... on VersionConflict { currentVersion message }
  ... on NotFound { message }
"""
FORM = f"""mutation($village: String!, $ids: [ID!]!, $name: String! = "KUBe Maju Bersama") {{
  formKubeGroup(villageCode: $village, name: $name, business: "Ternak kambing", householdIds: $ids) {{ {GROUP} }} }}"""
CHANGE = f"""mutation($id: ID!, $version: Int!, $add: [ID!], $remove: [ID!], $name: String) {{
  changeKubeGroup(groupId: $id, version: $version, addHouseholdIds: $add, removeHouseholdIds: $remove, name: $name)
  {{ {GROUP} }} }}"""
DISSOLVE = f"""mutation($id: ID!, $version: Int!, $reason: String!) {{
  dissolveKubeGroup(groupId: $id, version: $version, reason: $reason) {{ {GROUP} }} }}"""


async def families(engine: AsyncEngine, count: int, village: str = factories.VILLAGE) -> list[str]:
    return await store(engine, [factories.household(village) for _ in range(count)])


async def clean(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(MEMBERSHIPS))
        await conn.execute(delete(GROUPS))


def errors(result: dict[str, Any]) -> dict[str, str]:
    assert result["__typename"] == "ValidationError", result
    found: dict[str, str] = {}
    for f in result["fields"]:
        found[f["field"]] = f"{found[f['field']]} | {f['message']}" if f["field"] in found else f["message"]
    return found


async def test_form_change_and_dissolve(db: AsyncEngine, gql: GraphQLClient) -> None:
    await clean(db)
    ids = await families(db, 7)
    group = (await gql(FORM, {"village": factories.VILLAGE, "ids": ids[:5]}))["formKubeGroup"]
    assert (
        group["__typename"] == "KubeGroup"
        and group["status"] == "active"
        and group["groupStatus"] == "ACTIVE"
        and sorted(factories.key_of(h) for h in group["householdIds"]) == sorted(ids[:5])
    )
    changed = (
        await gql(
            CHANGE, {"id": group["id"], "version": 1, "add": ids[5:], "remove": [ids[0]], "name": "KUBe Sejahtera"}
        )
    )["changeKubeGroup"]
    assert changed["version"] == 2 and changed["name"] == "KUBe Sejahtera"
    assert sorted(factories.key_of(h) for h in changed["householdIds"]) == sorted(ids[1:])
    data = await gql("query($id: ID!) { household(id: $id) { programs { kubeGroup { id name } } } }", {"id": ids[6]})
    assert data["household"]["programs"]["kubeGroup"] == {"id": group["id"], "name": "KUBe Sejahtera"}
    listed = await gql(
        "query($v: String!) { programs { kubeGroups(villageCode: $v) { id } } }", {"v": factories.VILLAGE}
    )
    assert listed["programs"]["kubeGroups"] == [{"id": group["id"]}]
    stale = (await gql(DISSOLVE, {"id": group["id"], "version": 1, "reason": "usaha berhenti"}))["dissolveKubeGroup"]
    assert stale["__typename"] == "VersionConflict" and "KUBe group is now at version 2" in stale["message"]
    assert "reason" in errors(
        (await gql(DISSOLVE, {"id": group["id"], "version": 2, "reason": " "}))["dissolveKubeGroup"]
    )
    dissolved = (await gql(DISSOLVE, {"id": group["id"], "version": 2, "reason": "usaha berhenti"}))[
        "dissolveKubeGroup"
    ]
    assert dissolved["status"] == "dissolved" and dissolved["groupStatus"] == "DISSOLVED"
    assert dissolved["householdIds"] == []
    again = (await gql(FORM, {"village": factories.VILLAGE, "ids": ids[1:6]}))["formKubeGroup"]
    assert again["__typename"] == "KubeGroup"
    gone = (await gql(CHANGE, {"id": group["id"], "version": 3, "name": "x"}))["changeKubeGroup"]
    assert gone["__typename"] == "NotFound"


async def test_group_size_village_and_one_group_per_family(db: AsyncEngine, gql: GraphQLClient) -> None:
    await clean(db)
    ids = await families(db, 21)
    elsewhere = await families(db, 1, factories.OTHER_VILLAGE)
    assert (
        "5 to 20 families, not 4"
        in errors((await gql(FORM, {"village": factories.VILLAGE, "ids": ids[:4]}))["formKubeGroup"])["householdIds"]
    )
    assert (
        "not 21"
        in errors((await gql(FORM, {"village": factories.VILLAGE, "ids": ids}))["formKubeGroup"])["householdIds"]
    )
    across = errors((await gql(FORM, {"village": factories.VILLAGE, "ids": ids[:4] + elsewhere}))["formKubeGroup"])
    assert f"lives in village {factories.OTHER_VILLAGE}" in across["householdIds"]
    twice = errors((await gql(FORM, {"village": factories.VILLAGE, "ids": ids[:4] + ids[:1]}))["formKubeGroup"])
    assert "listed twice" in twice["householdIds"]
    assert (
        "does not exist"
        in errors((await gql(FORM, {"village": "32.01.01.9999", "ids": ids[:5]}))["formKubeGroup"])["villageCode"]
    )
    assert (
        "name is required"
        in errors((await gql(FORM, {"village": factories.VILLAGE, "ids": ids[:5], "name": ""}))["formKubeGroup"])[
            "name"
        ]
    )
    for name in ("KUBe\x1b[2J Maju", "KUBe Maju\nBersama", "KUBe \u202eujaM"):  # finding 7: one printable line
        refused = (await gql(FORM, {"village": factories.VILLAGE, "ids": ids[:5], "name": name}))["formKubeGroup"]
        assert "holds the control character" in errors(refused)["name"]
    first = (await gql(FORM, {"village": factories.VILLAGE, "ids": ids[:5]}))["formKubeGroup"]
    taken = errors((await gql(FORM, {"village": factories.VILLAGE, "ids": ids[4:9]}))["formKubeGroup"])
    assert f"already belongs to KUBe group {factories.key_of(first['id'])}" in taken["householdIds"]
    shrink = errors((await gql(CHANGE, {"id": first["id"], "version": 1, "remove": [ids[0]]}))["changeKubeGroup"])
    assert "not 4" in shrink["householdIds"]
    outsider = errors((await gql(CHANGE, {"id": first["id"], "version": 1, "remove": [ids[10]]}))["changeKubeGroup"])
    assert "not in this group" in outsider["removeHouseholdIds"]


async def test_two_groups_racing_for_the_same_families_never_share_one(db: AsyncEngine, gql: GraphQLClient) -> None:
    await clean(db)
    ids = await families(db, 6)
    results = await asyncio.gather(
        gql(FORM, {"village": factories.VILLAGE, "ids": ids[:5]}),
        gql(FORM, {"village": factories.VILLAGE, "ids": ids[1:6]}),
    )
    kinds = sorted(r["formKubeGroup"]["__typename"] for r in results)
    assert kinds == ["KubeGroup", "ValidationError"]


RUN = """mutation($region: String!) { runProgramCycle(program: "kube", period: "2026", regionCode: $region) {
  __typename ... on ProgramCycle { enrolled totalAmount } } }"""


async def test_a_cycle_shares_the_grant_among_the_poor_families_of_a_group(db: AsyncEngine, gql: GraphQLClient) -> None:
    """KUBe on core's helpers: its settings from settings.toml, core's decile rule, its own group rule."""
    await clean(db)
    poor = await store(db, [poor_household() for _ in range(4)])
    better_off = await store(db, [factories.household()])
    group = (await gql(FORM, {"village": factories.VILLAGE, "ids": poor + better_off}))["formKubeGroup"]
    assert group["__typename"] == "KubeGroup"
    cycle = (await gql(RUN, {"region": factories.VILLAGE}))["runProgramCycle"]
    # 20,000,000 a group, an equal share for each of its 5 families; the better-off one is not enrolled.
    assert cycle == {"__typename": "ProgramCycle", "enrolled": 4, "totalAmount": 16_000_000}
    verdicts = await gql("query($id: ID!) { household(id: $id) { members { nik } } }", {"id": better_off[0]})
    nik = verdicts["household"]["members"][0]["nik"]
    eligibility = 'query($nik: String!) { eligibility(nik: $nik, asOf: "2026-06-01") { programs { program reasons } } }'
    answer = await gql(eligibility, {"nik": nik})
    kube = next(p for p in answer["eligibility"]["programs"] if p["program"] == "kube")
    assert kube["reasons"][0] == "✓ member of a KUBe group" and kube["reasons"][1].startswith("✗ decile ")


async def test_group_writes_are_audited_and_other_regions_groups_are_not_found(
    db: AsyncEngine, gql: GraphQLClient, as_role: Any
) -> None:
    await clean(db)
    ids = await families(db, 5)
    group = (await gql(FORM, {"village": factories.VILLAGE, "ids": ids}))["formKubeGroup"]
    elsewhere = as_role("kube_officer", "35.78")
    renamed = (await elsewhere(CHANGE, {"id": group["id"], "version": 1, "name": "x"}))["changeKubeGroup"]
    assert renamed["__typename"] == "NotFound"
    outside = await elsewhere.raw(FORM, {"village": factories.VILLAGE, "ids": ids})
    assert outside["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                select(AUDIT.c.operation, AUDIT.c.entity, AUDIT.c.entity_id, AUDIT.c.outcome)
                .where(AUDIT.c.entity == "kube_group")
                .order_by(AUDIT.c.seq.desc())
                .limit(3)
            )
        ).all()
    assert [tuple(row) for row in reversed(rows)] == [
        ("formKubeGroup", "kube_group", factories.key_of(group["id"]), "ok"),
        ("changeKubeGroup", "kube_group", factories.key_of(group["id"]), "denied"),
        ("formKubeGroup", "kube_group", "-", "denied"),
    ]
