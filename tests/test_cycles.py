"""Program cycles: preview without writes, one transaction a run, re-runs and races refused, approval."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import insert, literal, literal_column, select, union_all
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.ids import ids
from core.foundation.refusals import Invalid, Missing
from core.programs.cycles import CycleRecord, CycleRefused, approve_cycle, run_cycle
from core.programs.hookspecs import hookimpl
from core.programs.preview import CyclePreview, RegionCount, preview_cycle
from core.programs.quotas import set_quota
from core.programs.registry import build_registry, make_manager
from core.programs.types import BenefitContext, BenefitRule
from core.storage.db import write_transaction
from tests import factories
from tests.cli_support import Ran
from tests.cli_support import siks as run_siks
from tests.conftest import GraphQLClient
from tests.programs_support import (
    COMPONENTS,
    CYCLES,
    DISBURSEMENTS,
    ENROLLMENTS,
    builtin_registry,
    child,
    enrolled,
    head,
    poor_household,
    rank,
    register,
    row_counts,
)

GUNUNGPUTRI_VILLAGE = "32.01.02.2001"  # Wanaherang, Gunungputri, Kabupaten Bogor
MARCH = "2026-03"


async def bogor_population(engine: AsyncEngine) -> dict[str, int]:
    """Two eligible families in Cibinong, one in Gunungputri, one too rich, one BPNT recipient (BST refuses)."""
    names = ["cibinong_1", "cibinong_2", "gunungputri", "rich", "bpnt"]
    households = [
        poor_household(),
        poor_household(),
        poor_household(GUNUNGPUTRI_VILLAGE, members=[head("32.01.02")]),
        poor_household(),
        poor_household(GUNUNGPUTRI_VILLAGE, members=[head("32.01.02")]),
    ]
    found = dict(zip(names, await register(engine, households), strict=True))
    await rank(
        engine,
        {
            found["cibinong_1"]: (2, -1.0),
            found["cibinong_2"]: (5, 0.0),
            found["gunungputri"]: (6, 0.2),
            found["rich"]: (9, 1.5),
            found["bpnt"]: (1, -2.0),
        },
    )
    return found


async def run_bpnt_for(engine: AsyncEngine, village: str) -> None:
    assert isinstance(await run_cycle(engine, builtin_registry(), "bpnt", MARCH, village, "tester"), CycleRecord)


async def test_preview_counts_per_district_what_the_run_then_does(db: AsyncEngine) -> None:
    gunungputri = [
        poor_household(GUNUNGPUTRI_VILLAGE, members=[head("32.01.02"), child(date(2022, 1, 5), "32.01.02")])
        for _ in range(2)
    ]
    first, second, paid_by_bst, third = await register(db, [poor_household(), poor_household(), *gunungputri])
    await rank(db, {first: (2, -1.0), second: (3, 0.0), paid_by_bst: (1, -2.0), third: (2, 0.5)})
    async with write_transaction(db) as conn:  # BST pays only the poorest family of that village in February
        await set_quota(conn, builtin_registry(), "bst", "2026-02", GUNUNGPUTRI_VILLAGE, 1)
    assert isinstance(await run_cycle(db, builtin_registry(), "bst", "2026-02", "32.01", "tester"), CycleRecord)
    before = await row_counts(db)
    preview = await preview_cycle(db, builtin_registry(), "pkh", "2026-Q1", "32.01")
    assert isinstance(preview, CyclePreview)
    assert await row_counts(db) == before  # nothing written
    by_code = {line.region_code: line for line in preview.regions}
    assert by_code["32.01.01"] == RegionCount("32.01.01", "Cibinong", 2, None, 2, 0)
    assert by_code["32.01.02"] == RegionCount("32.01.02", "Gunungputri", 2, None, 1, 1)
    assert by_code["32.01.03"].eligible == 0 and len(preview.regions) > 30  # every district of the regency
    assert preview.total == RegionCount("32.01", "Kabupaten Bogor", 4, None, 3, 1)
    assert preview.cycle is None
    cycle = await run_cycle(db, builtin_registry(), "pkh", "2026-Q1", "32.01", "tester")
    assert isinstance(cycle, CycleRecord)
    assert (cycle.enrolled, cycle.refused, cycle.total_amount) == (3, 1, 3 * 750_000)
    assert set(await enrolled(db, "pkh", "2026-Q1")) == {first, second, third}
    again = await preview_cycle(db, builtin_registry(), "pkh", "2026-Q1", "32.01")
    assert isinstance(again, CyclePreview) and again.cycle == cycle and again.total.would_enrol == 0


async def test_a_village_previews_itself_and_the_nation_its_provinces(db: AsyncEngine) -> None:
    await bogor_population(db)
    village = await preview_cycle(db, builtin_registry(), "bst", MARCH, factories.VILLAGE)
    assert isinstance(village, CyclePreview)
    assert [line.region_code for line in village.regions] == [factories.VILLAGE]
    assert village.total.eligible == 2 and village.regions[0].eligible == 2
    nation = await preview_cycle(db, builtin_registry(), "bst", MARCH, "ID")
    assert isinstance(nation, CyclePreview)
    assert len(nation.regions) == 38 and nation.total.name == "Indonesia"
    assert {line.region_code: line.eligible for line in nation.regions if line.eligible} == {"32": 4}


async def test_a_second_run_changes_nothing_and_says_it_already_ran(db: AsyncEngine) -> None:
    await bogor_population(db)
    first = await run_cycle(db, builtin_registry(), "bst", MARCH, "32.01", "tester")
    assert isinstance(first, CycleRecord) and first.status == "completed" and first.run_by == "tester"
    after_first = await row_counts(db)
    second = await run_cycle(db, builtin_registry(), "bst", MARCH, "32.01", "someone else")
    assert isinstance(second, CycleRefused) and second.cycle == first
    assert "already ran" in second.message and str(first.id) in second.message
    assert await row_counts(db) == after_first


async def test_two_runs_at_once_one_wins_and_the_other_is_refused_cleanly(db: AsyncEngine) -> None:
    await bogor_population(db)
    registry = builtin_registry()
    outcomes = await asyncio.gather(
        run_cycle(db, registry, "bst", MARCH, "32.01", "first"),
        run_cycle(db, registry, "bst", MARCH, "32.01", "second"),
    )
    won = [o for o in outcomes if isinstance(o, CycleRecord)]
    refused = [o for o in outcomes if isinstance(o, CycleRefused)]
    assert len(won) == 1 and len(refused) == 1, outcomes
    assert refused[0].cycle == won[0]
    counts = await row_counts(db)
    assert counts["program_cycles"] == 1 and counts["enrollments"] == 4 == counts["disbursements"]


async def test_households_enrolled_by_another_region_cycle_are_skipped(db: AsyncEngine) -> None:
    households = await bogor_population(db)
    village = await run_cycle(db, builtin_registry(), "bst", MARCH, factories.VILLAGE, "tester")
    regency = await run_cycle(db, builtin_registry(), "bst", MARCH, "32.01", "tester")
    assert isinstance(village, CycleRecord) and isinstance(regency, CycleRecord)
    assert (village.enrolled, regency.enrolled) == (2, 2)
    async with db.connect() as conn:
        rows = await conn.execute(select(CYCLES.c.id, CYCLES.c.region_code))
        cycle_of = dict(rows.all())
    assert cycle_of[village.id] == factories.VILLAGE
    assert await enrolled(db, "bst", MARCH) == {
        households[name]: 300_000 for name in ("cibinong_1", "cibinong_2", "gunungputri", "bpnt")
    }


async def test_approval_releases_the_payments_once(db: AsyncEngine) -> None:
    await bogor_population(db)
    cycle = await run_cycle(db, builtin_registry(), "bst", MARCH, "32.01", "tester")
    assert isinstance(cycle, CycleRecord)
    approved = await approve_cycle(db, cycle.id, "kepala dinas")
    assert isinstance(approved, CycleRecord)
    assert approved.status == "approved" and approved.approved_by == "kepala dinas" and approved.approved_at
    async with db.connect() as conn:
        statuses = (await conn.execute(select(DISBURSEMENTS.c.status, DISBURSEMENTS.c.version))).all()
    assert statuses == [("released", 2)] * 4
    twice = await approve_cycle(db, cycle.id, "kepala dinas")
    assert isinstance(twice, CycleRefused) and "already approved by kepala dinas" in twice.message
    missing = await approve_cycle(db, 12345, "kepala dinas")
    assert missing == Missing("program cycle", "12345")


async def test_only_a_completed_cycle_can_be_approved(db: AsyncEngine) -> None:
    cycle_id = ids.next_id()
    async with db.begin() as conn:
        await conn.execute(
            insert(CYCLES).values(
                id=cycle_id,
                program="bst",
                period=MARCH,
                region_code="32",
                status="running",
                enrolled=0,
                refused=0,
                total_amount=0,
                started_at=datetime.now(UTC),
                run_by="tester",
            )
        )
    refused = await approve_cycle(db, cycle_id, "kepala dinas")
    assert isinstance(refused, CycleRefused)
    assert refused.message == f"cycle {cycle_id} is running; only a completed cycle can be approved"


class CycleWatcher:
    """A plugin that records the siks_cycle_run calls it receives."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, int]] = []

    @hookimpl
    def siks_cycle_run(self, program: Any, period: Any, region_code: str, enrolled: int) -> None:
        self.seen.append((program.slug, period.label, region_code, enrolled))


async def test_the_cycle_run_hook_is_called_after_commit(db: AsyncEngine) -> None:
    await bogor_population(db)
    manager = make_manager(["pkh", "bpnt", "bst"])
    watcher = CycleWatcher()
    manager.register(watcher, name="watcher")
    registry = build_registry(manager)
    await run_cycle(db, registry, "bst", MARCH, "32.01", "tester")
    await run_cycle(db, registry, "bst", MARCH, "32.01", "tester")  # refused: no second call
    assert watcher.seen == [("bst", MARCH, "32.01", 4)]


class BrokenBenefit(BenefitRule):
    """A benefit whose SQL fails at run time (a column that does not exist)."""

    def components(self, ctx: BenefitContext) -> Any:
        return select(ctx.facts.c.household_id, literal(None), literal("x"), literal_column("no_such_column"))


async def test_a_run_that_fails_midway_writes_nothing(db: AsyncEngine) -> None:
    await bogor_population(db)
    registry = builtin_registry()
    registry.programs["bst"] = replace(registry.programs["bst"], benefit=BrokenBenefit())
    before = await row_counts(db)
    with pytest.raises(DBAPIError, match="no_such_column"):
        await run_cycle(db, registry, "bst", MARCH, "32.01", "tester")
    assert await row_counts(db) == before
    # The claim rolled back with everything else: the cycle can run once the program is fixed.
    assert isinstance(await run_cycle(db, builtin_registry(), "bst", MARCH, "32.01", "tester"), CycleRecord)


async def test_bad_input_names_the_field_and_writes_nothing(db: AsyncEngine) -> None:
    registry = builtin_registry()
    cases = {
        ("sembako", MARCH, "32"): {"program": "unknown program 'sembako'; installed programs: bpnt, bst, pkh"},
        ("bst", "March 2026", "32"): {
            "period": "period 'March 2026' is not a month; write it as YYYY-MM, e.g. 2026-03"
        },
        ("bst", MARCH, "32.99"): {"regionCode": "no regency/city with code 32.99"},
        ("bst", MARCH, "3201"): {"regionCode": "'3201' is not a Kemendagri region code"},
        ("pkh", "2026-3", "x"): {"period": "period '2026-3' is not a quarter", "regionCode": "'x' is not"},
    }
    for (program, period, region), expected in cases.items():
        outcome = await run_cycle(db, registry, program, period, region, "tester")
        assert isinstance(outcome, Invalid), outcome
        got = {error.field: error.message for error in outcome.errors}
        assert set(got) == set(expected)
        for field, start in expected.items():
            assert got[field].startswith(start), got[field]
        assert isinstance(await preview_cycle(db, registry, program, period, region), Invalid)
    assert (await row_counts(db))["program_cycles"] == 0


CYCLE_FIELDS = "id program period regionCode status enrolled refused totalAmount runBy approvedBy"
RUN = f"""mutation($program: String!, $period: String!, $region: String!) {{
  runProgramCycle(program: $program, period: $period, regionCode: $region) {{
    __typename ... on ProgramCycle {{ {CYCLE_FIELDS} }}
    ... on CycleRefused {{ message cycle {{ id }} }}
    ... on ValidationError {{ fields {{ field message }} }} }} }}"""
APPROVE = f"""mutation($id: ID!) {{ approveProgramCycle(cycleId: $id) {{
    __typename ... on ProgramCycle {{ {CYCLE_FIELDS} }} ... on CycleRefused {{ message }} ... on NotFound {{ message }}
  }} }}"""
PREVIEW = """query($program: String!, $period: String!, $region: String!) {
  programCyclePreview(program: $program, period: $period, regionCode: $region) {
    __typename ... on CyclePreview { program period regionCode cycle { id }
      total { regionCode name eligible quota wouldEnrol refused }
      regions { regionCode name eligible quota wouldEnrol refused } }
    ... on ValidationError { fields { field message } } } }"""


async def test_graphql_preview_run_and_approve(db: AsyncEngine, gql: GraphQLClient) -> None:
    await bogor_population(db)
    arguments = {"program": "bst", "period": MARCH, "region": "32.01"}
    preview = (await gql(PREVIEW, arguments))["programCyclePreview"]
    assert preview["__typename"] == "CyclePreview" and preview["cycle"] is None
    assert preview["total"] == {
        "regionCode": "32.01",
        "name": "Kabupaten Bogor",
        "eligible": 4,
        "quota": None,
        "wouldEnrol": 4,
        "refused": 0,
    }
    ran = (await gql(RUN, arguments))["runProgramCycle"]
    assert ran["__typename"] == "ProgramCycle"
    summary = (ran["status"], ran["enrolled"], ran["totalAmount"], ran["runBy"])
    assert summary == ("completed", 4, 1_200_000.0, "test-data_centre")
    again = (await gql(RUN, arguments))["runProgramCycle"]
    assert again["__typename"] == "CycleRefused" and again["cycle"]["id"] == ran["id"]
    approved = (await gql(APPROVE, {"id": ran["id"]}))["approveProgramCycle"]
    assert approved["__typename"] == "ProgramCycle" and approved["status"] == "approved"
    assert approved["approvedBy"] == "test-data_centre"
    twice = (await gql(APPROVE, {"id": ran["id"]}))["approveProgramCycle"]
    assert twice["__typename"] == "CycleRefused"
    unknown = (await gql(APPROVE, {"id": "42"}))["approveProgramCycle"]
    assert unknown == {"__typename": "NotFound", "message": "no active program cycle with id 42"}


async def test_graphql_refuses_bad_arguments_naming_the_field(db: AsyncEngine, gql: GraphQLClient) -> None:
    for arguments, field in (
        ({"program": "sembako", "period": MARCH, "region": "32"}, "program"),
        ({"program": "pkh", "period": MARCH, "region": "32"}, "period"),
        ({"program": "bst", "period": MARCH, "region": "99"}, "regionCode"),
    ):
        for document, name in ((RUN, "runProgramCycle"), (PREVIEW, "programCyclePreview")):
            result = (await gql(document, arguments))[name]
            assert result["__typename"] == "ValidationError"
            assert [f["field"] for f in result["fields"]] == [field]
    body = await gql.raw(APPROVE, {"id": "not-a-number"})
    assert "cycleId" in body["errors"][0]["message"]


def siks(*arguments: str) -> Ran:
    return run_siks("program", *arguments)


async def test_cli_preview_run_and_approve(db: AsyncEngine) -> None:
    await bogor_population(db)
    preview = siks("preview", "bst", MARCH, "32.01")
    assert preview.returncode == 0, preview.stderr
    assert "32.01.01" in preview.stdout and "Kabupaten Bogor" in preview.stdout
    ran = siks("run", "bst", MARCH, "32.01", "--actor", "operator-bogor")
    assert ran.returncode == 0, ran.stderr
    assert "4 enrolled, 0 refused, Rp 1,200,000" in ran.stdout
    cycle_id = ran.stdout.split()[1].rstrip(":")
    again = siks("run", "bst", MARCH, "32.01")
    assert again.returncode == 1 and "already ran" in again.stderr
    approved = siks("approve", cycle_id, "--actor", "kepala-dinas")
    assert approved.returncode == 0 and "approved" in approved.stdout
    wrong = siks("run", "bst", "2026-Q1", "32.01")
    assert wrong.returncode == 2 and "period:" in wrong.stderr


async def test_an_enrollment_with_payments_or_components_cannot_be_deleted(db: AsyncEngine) -> None:
    """Components and disbursements keep their enrollment without a foreign key (migration 0008):
    a trigger refuses to delete it, or change its id, while either points at it."""
    (family,) = await register(db, [poor_household(members=[head(), child(date(2022, 5, 1))])])
    for program, period in (("pkh", "2026-Q1"), ("bpnt", MARCH)):  # itemised and family benefits
        assert isinstance(await run_cycle(db, builtin_registry(), program, period, "ID", "tester"), CycleRecord)
    async with db.connect() as conn:
        enrollments = dict((await conn.execute(select(ENROLLMENTS.c.program, ENROLLMENTS.c.id))).all())
    for enrollment in enrollments.values():
        for statement in (ENROLLMENTS.delete(), ENROLLMENTS.update().values(id=ids.next_id())):
            with pytest.raises(DBAPIError, match="enrollment has components or disbursements"):
                async with write_transaction(db) as conn:
                    await conn.execute(statement.where(ENROLLMENTS.c.id == enrollment))
    counts = await row_counts(db)
    assert (counts["enrollments"], counts["disbursements"], counts["enrollment_components"]) == (2, 2, 1)
    # Once its rows are gone (by hand, children first), an enrollment may go too.
    async with write_transaction(db) as conn:
        for table in (COMPONENTS, DISBURSEMENTS, ENROLLMENTS):
            await conn.execute(table.delete())
    assert (await row_counts(db))["enrollments"] == 0


class BaseAndSupplement(BenefitRule):
    """Two family-level lines a household, listed lowest first and without line numbers of their own."""

    def components(self, ctx: BenefitContext) -> Any:
        def part(name: str, amount: int) -> Any:
            return select(ctx.facts.c.household_id, literal(None), literal(name), literal(amount))

        return union_all(part("base", 100_000), part("remote_area", 300_000))


async def test_core_numbers_the_lines_of_a_rule_that_does_not(db: AsyncEngine) -> None:
    (family,) = await register(db, [poor_household()])
    registry = builtin_registry()
    registry.programs["bst"] = replace(registry.programs["bst"], benefit=BaseAndSupplement())
    assert isinstance(await run_cycle(db, registry, "bst", MARCH, "ID", "tester"), CycleRecord)
    assert await enrolled(db, "bst", MARCH) == {family: 400_000}
    async with db.connect() as conn:
        lines = (
            await conn.execute(
                select(COMPONENTS.c.line, COMPONENTS.c.component, COMPONENTS.c.amount, COMPONENTS.c.member_id)
                .join(ENROLLMENTS, ENROLLMENTS.c.id == COMPONENTS.c.enrollment_id)
                .where(ENROLLMENTS.c.household_id == family)
                .order_by(COMPONENTS.c.line)
            )
        ).all()
    assert [tuple(line) for line in lines] == [(1, "remote_area", 300_000, None), (2, "base", 100_000, None)]
