"""BST: cash at the post office, only for families that receive neither PKH nor BPNT in the period."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine

from core.programs.cycles import CycleRecord, run_cycle
from core.programs.eligibility import explain
from core.programs.periods import PeriodKind, parse_period
from plugins.bst import PROGRAM
from tests import factories
from tests.programs_support import (
    builtin_registry,
    child,
    disbursements_of,
    enrolled,
    head,
    poor_household,
    rank,
    refusals,
    register,
)


async def run(engine: AsyncEngine, program: str, period: str, region: str) -> CycleRecord:
    outcome = await run_cycle(engine, builtin_registry(), program, period, region, "tester")
    assert isinstance(outcome, CycleRecord), outcome
    return outcome


async def test_bst_excludes_pkh_and_bpnt_recipients_in_overlapping_periods(db: AsyncEngine) -> None:
    with_child, without_child, near_poor, rich = await register(
        db,
        [
            poor_household(),
            poor_household(members=[head()]),
            poor_household(factories.OTHER_VILLAGE, members=[head("35.78.01")]),
            poor_household(factories.OTHER_VILLAGE, members=[head("35.78.01"), child(date(2021, 1, 1), "35.78.01")]),
        ],
    )
    await rank(db, {with_child: (1, -2.0), without_child: (3, -1.0), near_poor: (6, 0.0), rich: (7, 0.5)})
    await run(db, "pkh", "2026-Q1", factories.VILLAGE)  # the family with a child
    await run(db, "bpnt", "2026-03", factories.VILLAGE)  # both families of the village
    march = await run(db, "bst", "2026-03", "ID")
    # Receiving PKH or BPNT makes a family ineligible for BST (core's exclusion rule): not a refusal.
    assert await enrolled(db, "bst", "2026-03") == {near_poor: 300_000}
    assert march.refused == 0 and await refusals(db, march.id) == {}
    [payment] = await disbursements_of(db, march.id)
    assert (payment["channel"], payment["amount"]) == ("post_office", 300_000)
    assert payment["reference"] == f"BST-202603-{payment['enrollment_id']}-1"
    # April overlaps neither the PKH quarter nor a BPNT month: all three poor families qualify.
    april = await run(db, "bst", "2026-04", "ID")
    assert set(await enrolled(db, "bst", "2026-04")) == {with_child, without_child, near_poor}
    assert april.refused == 0
    async with db.connect() as conn:
        periods = {"bst": parse_period("2026-03", PeriodKind.MONTH)}
        verdicts = await explain(conn, builtin_registry(), [with_child, rich], periods)
    assert verdicts[with_child][0].summary == "not eligible: already receives PKH or BPNT in this period"
    assert verdicts[rich][0].summary == "not eligible: decile 7 > 6"


async def test_pkh_refuses_a_family_already_paid_by_bst(db: AsyncEngine) -> None:
    # BST ran first for February, so PKH may not pay the family for that quarter: a double recipient.
    [family] = await register(db, [poor_household()])
    await run(db, "bst", "2026-02", factories.VILLAGE)
    quarter = await run(db, "pkh", "2026-Q1", factories.VILLAGE)
    assert quarter.enrolled == 0 and quarter.refused == 1
    assert await refusals(db, quarter.id) == {family: ["already enrolled in BST 2026-02, which excludes PKH"]}
    assert (await run(db, "pkh", "2026-Q2", factories.VILLAGE)).enrolled == 1  # April-June overlap no BST


async def test_settings_and_declared_exclusions() -> None:
    config = PROGRAM.settings_for(parse_period("2026-03", PeriodKind.MONTH))
    assert (config["monthly_amount"], config["max_decile"]) == (300_000, 6)
    assert tuple(PROGRAM.excludes) == ("pkh", "bpnt") and PROGRAM.channel == "post_office"
