"""BPNT: a family amount a month through the KKS card, for families up to the decile threshold."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.refusals import Invalid
from core.programs.cycles import CycleRecord, run_cycle
from core.programs.eligibility import explain
from core.programs.periods import PeriodKind, parse_period
from core.programs.queries import enrollments_by_household
from plugins.bpnt import PROGRAM
from tests import factories
from tests.programs_support import (
    builtin_registry,
    components_of,
    disbursements_of,
    enrolled,
    head,
    poor_household,
    rank,
    register,
)

MARCH = "2026-03"


async def test_poor_families_get_the_monthly_amount_on_their_kks_card(db: AsyncEngine) -> None:
    first, second, richer = await register(
        db, [poor_household(), poor_household(members=[head()]), poor_household(factories.OTHER_VILLAGE)]
    )
    await rank(db, {first: (1, -3.0), second: (4, -0.2), richer: (5, 0.1)})
    cycle = await run_cycle(db, builtin_registry(), "bpnt", MARCH, "ID", "tester")
    assert isinstance(cycle, CycleRecord), cycle
    assert await enrolled(db, "bpnt", MARCH) == {first: 200_000, second: 200_000}
    assert cycle.total_amount == 400_000 and cycle.region_code == "ID"
    # A family amount is not itemised: no component rows, read back as one family component.
    assert await components_of(db, first, "bpnt") == []
    async with db.connect() as conn:
        (enrollment,) = (await enrollments_by_household(conn, [first]))[first]
    assert [(c.member_id, c.component, c.amount) for c in enrollment.components] == [(None, "family", 200_000)]
    payments = await disbursements_of(db, cycle.id)
    assert {p["household_id"] for p in payments} == {first, second}
    for payment in payments:
        assert payment["channel"] == "kks_card" and payment["amount"] == 200_000 and payment["status"] == "pending"
        assert payment["reference"] == f"BPNT-202603-{payment['enrollment_id']}-1"
    async with db.connect() as conn:
        verdicts = await explain(conn, builtin_registry(), [richer], {"bpnt": parse_period(MARCH, PeriodKind.MONTH)})
    assert verdicts[richer][0].summary == "not eligible: decile 5 > 4"


async def test_settings_per_year() -> None:
    config = PROGRAM.settings_for(parse_period(MARCH, PeriodKind.MONTH))
    assert (config["monthly_amount"], config["max_decile"]) == (200_000, 4)
    assert PROGRAM.channel == "kks_card" and PROGRAM.period_kind is PeriodKind.MONTH


async def test_a_quarter_is_not_a_bpnt_period(db: AsyncEngine) -> None:
    outcome = await run_cycle(db, builtin_registry(), "bpnt", "2026-Q1", "ID", "tester")
    assert isinstance(outcome, Invalid)
    assert outcome.errors[0].field == "period" and "YYYY-MM" in outcome.errors[0].message
