"""PKH: components per member, the four highest a family, a quarter of the yearly amounts a stage."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import Education, IdentityRunStatus, IdentityStatus
from core.foundation.refusals import Invalid
from core.programs.cycles import CycleRecord, run_cycle
from core.programs.eligibility import explain
from core.programs.periods import PeriodKind, parse_period
from core.reference.formats import Source
from plugins.pkh import PROGRAM
from plugins.pkh.components import paid_components
from tests import factories
from tests.identity_support import identity_run, outcome_of
from tests.programs_support import (
    builtin_registry,
    child,
    components_of,
    disbursements_of,
    enrolled,
    grandmother,
    head,
    member_ids_by_birth,
    poor_household,
    pregnant_mother,
    rank,
    register,
)

Q1 = "2026-Q1"


def big_family() -> list:  # type: ignore[type-arg]
    """Head, pregnant mother, a child of three, two primary pupils and the grandmother (60+)."""
    return [
        head(),
        pregnant_mother(),
        child(date(2022, 6, 1)),
        child(date(2016, 3, 5), education=Education.PRIMARY),
        child(date(2017, 9, 9), education=Education.PRIMARY),
        grandmother(),
    ]


async def run(engine: AsyncEngine, region: str = factories.VILLAGE) -> CycleRecord:
    outcome = await run_cycle(engine, builtin_registry(), "pkh", Q1, region, "tester")
    assert isinstance(outcome, CycleRecord), outcome
    return outcome


async def test_family_is_paid_for_its_four_highest_components(db: AsyncEngine) -> None:
    data = poor_household(members=big_family())
    [household_id] = await register(db, [data])
    cycle = await run(db)
    # A quarter of the yearly amounts: 3,000,000 / 4 = 750,000; elderly 2,400,000 / 4; primary 900,000 / 4.
    assert await enrolled(db, "pkh", Q1) == {household_id: 750_000 + 750_000 + 600_000 + 225_000}
    assert cycle.enrolled == 1 and cycle.total_amount == 2_325_000
    rows = await components_of(db, household_id, "pkh")
    assert [(component, amount) for _, component, amount in rows] == [
        ("pregnant", 750_000),
        ("child_0_6", 750_000),
        ("elderly_60", 600_000),
        ("primary_pupil", 225_000),
    ]
    assert all(member_id is not None for member_id, _, _ in rows)
    members = await member_ids_by_birth(db, household_id)
    assert [member_id for member_id, _, _ in rows] == [
        members[date(1994, 7, 11)],
        members[date(2022, 6, 1)],
        members[date(1952, 1, 20)],
        members[date(2016, 3, 5)],  # of two equal pupils, the one with the lower id
    ]


async def test_each_member_counts_once_for_its_best_component(db: AsyncEngine) -> None:
    # A six-year-old at primary school is a child 0-6 (750,000) rather than a pupil (225,000).
    members = [head(), child(date(2019, 6, 1), education=Education.PRIMARY)]
    [household_id] = await register(db, [poor_household(members=members)])
    await run(db)
    assert [(c, a) for _, c, a in await components_of(db, household_id, "pkh")] == [("child_0_6", 750_000)]


async def test_stage_disbursement(db: AsyncEngine) -> None:
    [household_id] = await register(db, [poor_household()])
    cycle = await run(db)
    [payment] = await disbursements_of(db, cycle.id)
    assert payment["household_id"] == household_id
    assert payment["reference"] == f"PKH-2026Q1-{payment['enrollment_id']}-1"
    assert (payment["stage"], payment["amount"], payment["channel"]) == (1, 750_000, "bank_account")
    assert payment["status"] == "pending" and payment["account_reference"] is None


async def test_decile_threshold_and_component_rule(db: AsyncEngine) -> None:
    poor, rich, childless = await register(
        db,
        [
            poor_household(members=big_family()),
            poor_household(),
            poor_household(members=[head()]),
        ],
    )
    await rank(db, {poor: (2, -1.5), rich: (7, 0.4), childless: (1, -2.0)})
    await run(db)
    assert set(await enrolled(db, "pkh", Q1)) == {poor}
    registry = builtin_registry()
    async with db.connect() as conn:
        verdicts = await explain(conn, registry, [poor, rich, childless], {"pkh": parse_period(Q1, PeriodKind.QUARTER)})
    summaries = {household_id: found[0].summary for household_id, found in verdicts.items()}
    assert summaries[poor] == (
        "eligible: decile 2 ≤ 4; pregnant woman ×1, child 0–6 ×1, primary pupil ×2, elderly 60+ ×1"
    )
    assert summaries[rich] == "not eligible: decile 7 > 4"
    assert summaries[childless].startswith("not eligible: no PKH component (pregnant woman, child 0–6")


async def test_without_a_ranking_the_deprivation_estimate_decides(db: AsyncEngine) -> None:
    # The factory's household lacks only valuable assets: one deprivation, estimated decile 9.
    poor, comfortable = await register(
        db, [poor_household(), factories.household(members=[head(), child(date(2022, 6, 1))])]
    )
    await run(db)
    assert set(await enrolled(db, "pkh", Q1)) == {poor}
    assert comfortable not in await enrolled(db, "pkh", Q1)


async def test_amounts_and_thresholds_come_from_settings() -> None:
    config = PROGRAM.settings_for(parse_period(Q1, PeriodKind.QUARTER))
    assert config["max_decile"] == 4 and config["max_components"] == 4
    assert config["components"]["pregnant"] == 3_000_000 and config["components"]["primary_pupil"] == 900_000
    assert PROGRAM.period_kind is PeriodKind.QUARTER


async def test_periods_outside_the_settings_or_of_the_wrong_form_are_refused(db: AsyncEngine) -> None:
    registry = builtin_registry()
    for period, wording in (("2026-03", "YYYY-Qn"), ("2019-Q4", "no settings for 2019-Q4"), ("2026-Q5", "YYYY-Qn")):
        outcome = await run_cycle(db, registry, "pkh", period, factories.VILLAGE, "tester")
        assert isinstance(outcome, Invalid), outcome
        assert [e.field for e in outcome.errors] == ["period"] and wording in outcome.errors[0].message


# --- school components from Dapodik ---------------------------------------------------------------


async def school_run(engine: AsyncEngine, household_id: int, outcomes: dict[date, dict[str, object]], **run: object):  # type: ignore[no-untyped-def]
    """A Dapodik run: child (by birth date) → ``{"status": ..., details}``; returns its id."""
    members = await member_ids_by_birth(engine, household_id)
    rows = []
    for born, given in outcomes.items():
        details = dict(given)
        status = details.pop("status")
        rows.append(outcome_of(members[born], household_id, status, Source.DAPODIK, **details))  # type: ignore[arg-type]
    return await identity_run(engine, rows, **run)  # type: ignore[arg-type]


async def test_dapodik_enrolment_sets_the_school_component_where_it_found_the_child(db: AsyncEngine) -> None:
    # Registered at primary school; Dapodik finds the one at SMP, the other not enrolled; a third unchecked.
    at_smp, dropped_out, unchecked = date(2013, 3, 5), date(2014, 9, 9), date(2016, 1, 1)
    members = [
        head(),
        child(at_smp, education=Education.PRIMARY),
        child(dropped_out, education=Education.PRIMARY),
        child(unchecked, education=Education.PRIMARY),
    ]
    [household_id] = await register(db, [poor_household(members=members)])
    enrolled_at = {"status": IdentityStatus.ENROLLED, "level": "SMP", "grade": 7, "attendance": 92.5}
    await school_run(db, household_id, {at_smp: enrolled_at, dropped_out: {"status": IdentityStatus.NOT_ENROLLED}})
    await run(db)
    ids = await member_ids_by_birth(db, household_id)
    rows = await components_of(db, household_id, "pkh")
    assert [(member, component) for member, component, _ in rows] == [
        (ids[at_smp], "junior_pupil"),  # 1,500,000 / 4
        (ids[unchecked], "primary_pupil"),  # the registry's rule
    ]
    assert await enrolled(db, "pkh", Q1) == {household_id: 375_000 + 225_000}


async def test_a_child_dapodik_finds_not_enrolled_is_no_component_and_a_failed_run_does_not_count(
    db: AsyncEngine,
) -> None:
    pupil, schoolchild = date(2015, 3, 5), date(2012, 2, 2)
    dropped, registered_out = await register(
        db,
        [
            poor_household(members=[head(), child(pupil, education=Education.PRIMARY)]),
            poor_household(members=[head(), child(schoolchild)]),  # not in school by the registry
        ],
    )
    await school_run(db, dropped, {pupil: {"status": IdentityStatus.NOT_ENROLLED}})
    senior = {"status": IdentityStatus.ENROLLED, "level": "SMK", "grade": 10, "attendance": 88.0}
    await school_run(db, registered_out, {schoolchild: senior})
    # A later run that failed says otherwise: it does not count.
    await school_run(db, dropped, {pupil: senior}, status=IdentityRunStatus.FAILED)
    await run(db)
    assert await enrolled(db, "pkh", Q1) == {registered_out: 500_000}  # senior high: 2,000,000 / 4
    async with db.connect() as conn:
        [verdict] = (await explain(conn, builtin_registry(), [dropped], {"pkh": parse_period(Q1, PeriodKind.QUARTER)}))[
            dropped
        ]
    assert not verdict.eligible  # a household's verdict counts the members as the cycle does
    assert (
        verdict.summary
        == "not eligible: no PKH component ("
        + ", ".join(c.label for c in paid_components(PROGRAM.settings_for(parse_period(Q1, PeriodKind.QUARTER))))
        + ")"
    )
