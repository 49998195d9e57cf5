"""Quotas: set, replace, clear; filled poorest first within the most specific quota region."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.refusals import Invalid
from core.programs.cycles import CycleRecord, run_cycle
from core.programs.preview import CyclePreview, preview_cycle
from core.programs.quotas import Quota, list_quotas, set_quota
from core.programs.scope import ProgramScope, check_scope
from core.storage.db import write_transaction
from tests import factories
from tests.cli_support import Ran
from tests.cli_support import siks as run_siks
from tests.conftest import GraphQLClient
from tests.programs_support import builtin_registry, enrolled, head, poor_household, rank, register

GUNUNGPUTRI_VILLAGE = "32.01.02.2001"


async def quota(engine: AsyncEngine, region: str, value: int | None, period: str = "2026-03") -> Quota | Invalid:
    async with write_transaction(engine) as conn:
        return await set_quota(conn, builtin_registry(), "bpnt", period, region, value)


async def run(engine: AsyncEngine, region: str, period: str = "2026-03") -> CycleRecord:
    outcome = await run_cycle(engine, builtin_registry(), "bpnt", period, region, "tester")
    assert isinstance(outcome, CycleRecord), outcome
    return outcome


async def stored(engine: AsyncEngine, period: str = "2026-03") -> dict[str, int | None]:
    async with engine.connect() as conn:
        scope = await check_scope(conn, builtin_registry(), "bpnt", period, "ID")
        assert isinstance(scope, ProgramScope)
        return {q.region_code: q.quota for q in await list_quotas(conn, scope)}


async def test_set_replace_and_clear(db: AsyncEngine) -> None:
    first = await quota(db, "32.01", 120)
    assert isinstance(first, Quota) and (first.program, first.region_code, first.quota) == ("bpnt", "32.01", 120)
    await quota(db, "32.01", 80)
    await quota(db, "ID", 1_000)
    assert await stored(db) == {"32.01": 80, "ID": 1_000}
    cleared = await quota(db, "32.01", None)
    assert isinstance(cleared, Quota) and cleared.quota is None
    assert await stored(db) == {"ID": 1_000}


async def test_bad_quotas_are_refused_naming_the_field(db: AsyncEngine) -> None:
    negative = await quota(db, "32.01", -5)
    assert isinstance(negative, Invalid)
    assert [(e.field, e.message) for e in negative.errors] == [
        ("quota", "quota must be between 0 and 2,147,483,647 households; give null to clear it")
    ]
    async with write_transaction(db) as conn:
        everything = await set_quota(conn, builtin_registry(), "bansos", "2026-03", "32.01.99", -1)
        wrong_period = await set_quota(conn, builtin_registry(), "bpnt", "2026-Q1", "32", 5)
    assert isinstance(everything, Invalid) and [e.field for e in everything.errors] == [
        "program",
        "regionCode",
        "quota",
    ]
    assert isinstance(wrong_period, Invalid) and [e.field for e in wrong_period.errors] == ["period"]
    assert await stored(db) == {}


async def test_poorest_first_by_decile_then_score_then_id(db: AsyncEngine) -> None:
    a, b, c, d, e = await register(db, [poor_household() for _ in range(5)])
    await rank(db, {a: (3, -1.0), b: (1, 0.5), c: (1, -0.7), d: (2, -3.0), e: (1, -0.7)})
    for period, size in (("2026-03", 3), ("2026-04", 1), ("2026-05", 2), ("2026-06", 0)):
        await quota(db, factories.VILLAGE, size, period)
        await run(db, factories.VILLAGE, period)
    assert set(await enrolled(db, "bpnt", "2026-03")) == {c, e, b}
    assert set(await enrolled(db, "bpnt", "2026-04")) == {c}  # c and e tie; the lower id goes first
    assert set(await enrolled(db, "bpnt", "2026-05")) == {c, e}  # -0.7 is poorer than 0.5
    assert await enrolled(db, "bpnt", "2026-06") == {}


async def test_households_under_no_quota_region_are_not_enrolled(db: AsyncEngine) -> None:
    inside, outside = await register(db, [poor_household(), poor_household(factories.OTHER_VILLAGE)])
    await quota(db, "32", 10)
    cycle = await run(db, "ID")
    assert set(await enrolled(db, "bpnt", "2026-03")) == {inside} and cycle.enrolled == 1
    assert outside not in await enrolled(db, "bpnt", "2026-03")


async def test_the_most_specific_quota_region_applies(db: AsyncEngine) -> None:
    village = await register(db, [poor_household() for _ in range(3)])
    other = await register(db, [poor_household(GUNUNGPUTRI_VILLAGE, members=[head("32.01.02")]) for _ in range(2)])
    await rank(db, {household: (1, -float(n)) for n, household in enumerate([*village, *other])})
    await quota(db, "32.01", 1)
    await quota(db, factories.VILLAGE, 2)
    await run(db, "32.01")
    # The village's own quota takes its two poorest; the regency's quota the poorest of the rest.
    assert set(await enrolled(db, "bpnt", "2026-03")) == {village[2], village[1], other[1]}


async def test_a_quota_counts_what_earlier_cycles_enrolled_under_it(db: AsyncEngine) -> None:
    await register(db, [poor_household() for _ in range(2)])
    later = await register(db, [poor_household(GUNUNGPUTRI_VILLAGE, members=[head("32.01.02")]) for _ in range(2)])
    await quota(db, "32", 3)
    assert (await run(db, factories.VILLAGE)).enrolled == 2
    second = await run(db, GUNUNGPUTRI_VILLAGE)
    assert second.enrolled == 1
    assert len(set(await enrolled(db, "bpnt", "2026-03")) & set(later)) == 1


async def test_preview_shows_each_district_s_quota(db: AsyncEngine) -> None:
    await register(db, [poor_household() for _ in range(3)])
    await register(db, [poor_household(GUNUNGPUTRI_VILLAGE, members=[head("32.01.02")])])
    await quota(db, factories.VILLAGE, 2)
    await quota(db, "32.01.02", 5)
    preview = await preview_cycle(db, builtin_registry(), "bpnt", "2026-03", "32.01")
    assert isinstance(preview, CyclePreview)
    lines = {line.region_code: line for line in preview.regions}
    assert (lines["32.01.01"].quota, lines["32.01.01"].eligible, lines["32.01.01"].would_enrol) == (2, 3, 2)
    assert (lines["32.01.02"].quota, lines["32.01.02"].would_enrol) == (5, 1)
    assert lines["32.01.03"].quota == 0 and preview.total.quota == 7 and preview.total.would_enrol == 3


SET_QUOTA = """mutation($program: String!, $period: String!, $region: String!, $quota: Int) {
  setProgramQuota(program: $program, period: $period, regionCode: $region, quota: $quota) {
    __typename ... on ProgramQuota { program period regionCode quota }
    ... on ValidationError { fields { field message } } } }"""


async def test_graphql_set_replace_clear_and_refuse(db: AsyncEngine, gql: GraphQLClient) -> None:
    arguments = {"program": "pkh", "period": "2026-Q2", "region": "32.01", "quota": 50}
    result = (await gql(SET_QUOTA, arguments))["setProgramQuota"]
    assert result == {
        "__typename": "ProgramQuota",
        "program": "pkh",
        "period": "2026-Q2",
        "regionCode": "32.01",
        "quota": 50,
    }
    replaced = (await gql(SET_QUOTA, {**arguments, "quota": 70}))["setProgramQuota"]
    assert replaced["quota"] == 70
    cleared = (await gql(SET_QUOTA, {**arguments, "quota": None}))["setProgramQuota"]
    assert cleared["__typename"] == "ProgramQuota" and cleared["quota"] is None
    negative = (await gql(SET_QUOTA, {**arguments, "quota": -1}))["setProgramQuota"]
    assert negative["__typename"] == "ValidationError" and negative["fields"][0]["field"] == "quota"
    unknown = (await gql(SET_QUOTA, {**arguments, "program": "xyz", "region": "32.01.99"}))["setProgramQuota"]
    assert [f["field"] for f in unknown["fields"]] == ["program", "regionCode"]


def siks(*arguments: str) -> Ran:
    return run_siks("program", "quota", *arguments)


async def test_cli_quota(db: AsyncEngine) -> None:
    done = siks("bst", "2026-03", "32.01", "250")
    assert done.returncode == 0 and "quota BST 2026-03 32.01: 250 households" in done.stdout
    negative = siks("bst", "2026-03", "32.01", "--", "-3")
    assert negative.returncode == 2 and "quota: quota must be between 0" in negative.stderr
    cleared = siks("bst", "2026-03", "32.01", "--clear")
    assert cleared.returncode == 0 and "cleared" in cleared.stdout
    assert siks("bst", "2026-03", "32.01").returncode == 2
