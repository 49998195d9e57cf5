"""Answers for integrators (other agencies): who is eligible for what, by NIK, in batches.

A batch of any size up to ``MAX_BATCH`` costs a fixed number of statements: one to find the
households of the NIKs, one per program for the verdicts, one for the enrollments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import MemberStatus
from core.models import Enrollment
from core.programs.eligibility import Verdict, explain
from core.programs.periods import current_period
from core.programs.registry import ProgramRegistry
from core.regions.codes import within
from core.storage.records import HOUSEHOLDS, MEMBERS

MAX_BATCH = 10_000
ENROLLMENTS = Enrollment.__table__


class BatchTooLarge(ValueError):
    """More NIKs than one request may ask about."""


@dataclass(frozen=True, slots=True)
class ProgramAnswer:
    verdict: Verdict
    enrolled_periods: list[str]


@dataclass(slots=True)
class NikAnswer:
    """What the registry says about one NIK; ``found`` is false for a NIK in no active household."""

    nik: str
    found: bool
    programs: list[ProgramAnswer] = field(default_factory=list)


async def eligibility_by_nik(
    conn: AsyncConnection, registry: ProgramRegistry, niks: Sequence[str], as_of: date, scope: str = ""
) -> list[NikAnswer]:
    """One answer per NIK asked, in the order asked, for every program's period containing ``as_of``.

    A NIK whose household lies outside ``scope`` is answered as not found.
    """
    if len(niks) > MAX_BATCH:
        raise BatchTooLarge(f"at most {MAX_BATCH:,} NIKs a request; split the {len(niks):,} into batches")
    wanted = list(dict.fromkeys(niks))
    household_of: dict[str, int] = {}
    if wanted:
        query = select(MEMBERS.c.nik, MEMBERS.c.household_id).where(
            MEMBERS.c.nik.in_(wanted), MEMBERS.c.status == MemberStatus.ACTIVE.value
        )
        if scope:
            query = query.join(HOUSEHOLDS, HOUSEHOLDS.c.id == MEMBERS.c.household_id).where(
                within(HOUSEHOLDS.c.village_code, scope)
            )
        household_of = dict((await conn.execute(query)).all())
    households = set(household_of.values())
    periods = {slug: current_period(program.period_kind, as_of) for slug, program in registry.programs.items()}
    verdicts = await explain(conn, registry, households, periods)
    enrolled: dict[tuple[int, str], list[str]] = {}
    if households:
        rows = await conn.execute(
            select(ENROLLMENTS.c.household_id, ENROLLMENTS.c.program, ENROLLMENTS.c.period)
            .where(ENROLLMENTS.c.household_id.in_(list(households)), ENROLLMENTS.c.status == "enrolled")
            .order_by(ENROLLMENTS.c.period_start)
        )
        for household_id, program, period in rows:
            enrolled.setdefault((household_id, program), []).append(period)
    answers = []
    for nik in niks:
        household_id = household_of.get(nik)
        if household_id is None:
            answers.append(NikAnswer(nik=nik, found=False))
            continue
        answers.append(
            NikAnswer(
                nik=nik,
                found=True,
                programs=[
                    ProgramAnswer(verdict, enrolled.get((household_id, verdict.program), []))
                    for verdict in verdicts.get(household_id, [])
                ],
            )
        )
    return answers
