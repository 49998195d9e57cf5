"""Cycles and the civil registry: a program that refuses the civilly deceased (PKH, BPNT, BST) counts
no member whose latest completed Adminduk check says deceased, and refuses a household eligible
only through such members, saying so; with the setting off, the registry alone decides."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import IdentityRunStatus, IdentityStatus
from core.programs.cycles import CycleRecord, run_cycle
from core.programs.member_outcomes import ALL_DECEASED, ONLY_THROUGH_DECEASED
from core.programs.registry import ProgramRegistry
from tests.identity_support import identity_run, outcome_of
from tests.programs_support import (
    builtin_registry,
    child,
    components_of,
    enrolled,
    grandmother,
    head,
    member_ids_by_birth,
    poor_household,
    pregnant_mother,
    refusals,
    register,
)

MARCH, Q1 = "2026-03", "2026-Q1"
DECEASED, VERIFIED = IdentityStatus.DECEASED, IdentityStatus.VERIFIED
HEAD_BORN = date(1988, 4, 2)


def without_refusal(registry: ProgramRegistry, slug: str) -> ProgramRegistry:
    program = replace(registry.program(slug), refuse_civil_deceased=False)
    return replace(registry, programs={**registry.programs, slug: program})


async def run(engine: AsyncEngine, slug: str, period: str, registry: ProgramRegistry | None = None) -> CycleRecord:
    outcome = await run_cycle(engine, registry or builtin_registry(), slug, period, "32.01.01.1001", "tester")
    assert isinstance(outcome, CycleRecord), outcome
    return outcome


async def deceased(engine: AsyncEngine, household_id: int, *born: date) -> int:
    """A completed run recording the members born on ``born`` as deceased; returns its id."""
    members = await member_ids_by_birth(engine, household_id)
    return await identity_run(
        engine, [outcome_of(members[day], household_id, DECEASED, deathDate="2026-01-10") for day in born]
    )


def test_the_built_in_cash_programs_turn_the_refusal_on() -> None:
    registry = builtin_registry()
    assert {slug: p.refuse_civil_deceased for slug, p in registry.programs.items()} == {
        "pkh": True,
        "bpnt": True,
        "bst": True,
    }


async def test_bpnt_refuses_a_household_whose_members_all_died_and_pays_the_living(db: AsyncEngine) -> None:
    emptied, widow, untouched = await register(
        db,
        [
            poor_household(members=[head()]),
            poor_household(members=[head(), pregnant_mother()]),
            poor_household(),
        ],
    )
    await deceased(db, emptied, HEAD_BORN)
    await deceased(db, widow, HEAD_BORN)  # the head died; his wife remains
    cycle = await run(db, "bpnt", MARCH)
    assert set(await enrolled(db, "bpnt", MARCH)) == {widow, untouched}
    assert await refusals(db, cycle.id) == {emptied: [ALL_DECEASED]}
    assert (cycle.enrolled, cycle.refused) == (2, 1)


async def test_with_the_setting_off_the_registry_alone_decides(db: AsyncEngine) -> None:
    (emptied,) = await register(db, [poor_household(members=[head()])])
    await deceased(db, emptied, HEAD_BORN)
    cycle = await run(db, "bpnt", MARCH, without_refusal(builtin_registry(), "bpnt"))
    assert set(await enrolled(db, "bpnt", MARCH)) == {emptied} and await refusals(db, cycle.id) == {}


async def test_pkh_pays_no_component_for_a_deceased_member(db: AsyncEngine) -> None:
    family, only_grandmother = await register(
        db,
        [
            poor_household(members=[head(), pregnant_mother(), child(date(2022, 6, 1))]),
            poor_household(members=[head(), grandmother()]),
        ],
    )
    await deceased(db, family, date(1994, 7, 11))  # the pregnant mother
    await deceased(db, only_grandmother, date(1952, 1, 20))
    cycle = await run(db, "pkh", Q1)
    assert await enrolled(db, "pkh", Q1) == {family: 750_000}  # the child 0-6 only
    assert [component for _, component, _ in await components_of(db, family, "pkh")] == ["child_0_6"]
    assert await refusals(db, cycle.id) == {only_grandmother: [ONLY_THROUGH_DECEASED]}
    off = without_refusal(builtin_registry(), "pkh")
    again = await run(db, "pkh", "2026-Q2", off)
    assert again.enrolled == 2 and await refusals(db, again.id) == {}


async def test_only_the_latest_completed_adminduk_run_counts(db: AsyncEngine) -> None:
    revived, failed_only = await register(db, [poor_household(members=[head()]), poor_household(members=[head()])])
    await deceased(db, revived, HEAD_BORN)
    members = await member_ids_by_birth(db, revived)
    await identity_run(db, [outcome_of(members[HEAD_BORN], revived, VERIFIED)])  # a later run: alive after all
    others = await member_ids_by_birth(db, failed_only)
    await identity_run(
        db,
        [outcome_of(others[HEAD_BORN], failed_only, DECEASED, deathDate="2026-01-10")],
        status=IdentityRunStatus.FAILED,
    )
    cycle = await run(db, "bpnt", MARCH)
    assert set(await enrolled(db, "bpnt", MARCH)) == {revived, failed_only}
    assert await refusals(db, cycle.id) == {}
